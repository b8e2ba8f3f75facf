// A small, safe Markdown renderer for untrusted text: it builds DOM nodes and sets only
// textContent, never innerHTML, so no tag, attribute or script in the text can take effect.
// Blocks: fenced code (``` or ~~~), headings, lists (-, *, +, 1.), block quotes, rules and
// paragraphs (line breaks kept). Inline: `code`, **bold**, *emphasis*, _emphasis_; a link
// [text](url) shows its text and its address, not clickable.
"use strict";

(function () {
  const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;
  const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
  const ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
  const QUOTE = /^ {0,3}>\s?(.*)$/;
  const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;

  function el(tag, cls) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    return node;
  }

  function text(s) {
    return document.createTextNode(s);
  }

  // Inline: code spans first (their content is literal), then emphasis and links in the rest.
  function inline(parent, s) {
    let i = 0;
    while (i < s.length) {
      const tick = s.indexOf("`", i);
      if (tick < 0) break;
      let run = 1;
      while (s[tick + run] === "`") run++;
      const fence = "`".repeat(run);
      let end = s.indexOf(fence, tick + run);
      while (end >= 0 && s[end + run] === "`") end = s.indexOf(fence, end + run + 1);
      if (end < 0) {
        emphasis(parent, s.slice(i, tick + run));
        i = tick + run;
        continue;
      }
      emphasis(parent, s.slice(i, tick));
      const code = el("code");
      code.textContent = s.slice(tick + run, end).replace(/^ (.*) $/, "$1");
      parent.appendChild(code);
      i = end + run;
    }
    emphasis(parent, s.slice(i));
  }

  // Underscores only at word edges (snake_case stays as it is), as in CommonMark.
  const SPAN = new RegExp(
    [
      "\\*\\*(?=\\S)([\\s\\S]*?\\S)\\*\\*",
      "(?<!\\w)__(?=\\S)([\\s\\S]*?\\S)__(?!\\w)",
      "\\*(?=[^\\s*])([\\s\\S]*?[^\\s*])\\*",
      "(?<!\\w)_(?=[^\\s_])([\\s\\S]*?[^\\s_])_(?!\\w)",
      "\\[([^\\]\\n]+)\\]\\(([^)\\s]+)\\)",
    ].join("|"),
  );

  function emphasis(parent, s) {
    while (s) {
      const m = SPAN.exec(s);
      if (!m) {
        parent.appendChild(text(s));
        return;
      }
      if (m.index > 0) parent.appendChild(text(s.slice(0, m.index)));
      const strong = m[1] !== undefined ? m[1] : m[2];
      const em = m[3] !== undefined ? m[3] : m[4];
      if (strong !== undefined) {
        const b = el("strong");
        emphasis(b, strong);
        parent.appendChild(b);
      } else if (em !== undefined) {
        const e = el("em");
        emphasis(e, em);
        parent.appendChild(e);
      } else {
        const link = el("span", "md-link");
        emphasis(link, m[5]);
        parent.appendChild(link);
        const href = el("span", "md-href");
        href.textContent = " (" + m[6] + ")";
        parent.appendChild(href);
      }
      s = s.slice(m.index + m[0].length);
    }
  }

  function paragraph(parent, lines) {
    if (!lines.length) return;
    const p = el("p");
    inline(p, lines.join("\n"));
    parent.appendChild(p);
  }

  function render(source) {
    const root = el("div", "md");
    blocks(root, String(source == null ? "" : source).replace(/\r\n?/g, "\n").split("\n"));
    return root;
  }

  function blocks(root, lines) {
    let para = [];
    const flush = () => {
      paragraph(root, para);
      para = [];
    };
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      let m;
      if ((m = FENCE.exec(line))) {
        flush();
        const body = [];
        const close = new RegExp("^ {0,3}" + m[1][0] + "{" + m[1].length + ",}\\s*$");
        i++;
        while (i < lines.length && !close.test(lines[i])) body.push(lines[i++]);
        const pre = el("pre");
        if (m[2]) pre.dataset.lang = m[2];
        const code = el("code");
        code.textContent = body.join("\n");
        pre.appendChild(code);
        root.appendChild(pre);
      } else if (!line.trim()) {
        flush();
      } else if ((m = HEADING.exec(line))) {
        flush();
        const h = el("h" + Math.min(6, m[1].length + 2));
        inline(h, m[2]);
        root.appendChild(h);
      } else if (RULE.test(line)) {
        flush();
        root.appendChild(el("hr"));
      } else if (QUOTE.test(line)) {
        flush();
        const quoted = [];
        while (i < lines.length && (m = QUOTE.exec(lines[i]))) {
          quoted.push(m[1]);
          i++;
        }
        i--;
        const q = el("blockquote");
        blocks(q, quoted);
        root.appendChild(q);
      } else if ((m = ITEM.exec(line))) {
        flush();
        i = list(root, lines, i) - 1;
      } else {
        para.push(line);
      }
    }
    flush();
  }

  // A list from lines[start]; returns the index after it. Indented lines continue an item.
  function list(root, lines, start) {
    const first = ITEM.exec(lines[start]);
    const ordered = /\d/.test(first[2]);
    const node = el(ordered ? "ol" : "ul");
    if (ordered && parseInt(first[2], 10) !== 1) node.start = parseInt(first[2], 10);
    const indent = first[1].length;
    let i = start;
    while (i < lines.length) {
      let m = ITEM.exec(lines[i]);
      if (!m || m[1].length !== indent || /\d/.test(m[2]) !== ordered) break;
      const body = [m[3]];
      i++;
      while (i < lines.length && lines[i].trim() && !ITEM.exec(lines[i])) {
        body.push(lines[i].trim());
        i++;
      }
      while (i < lines.length && (m = ITEM.exec(lines[i])) && m[1].length > indent) {
        body.push(lines[i].slice(indent + 2));
        i++;
      }
      const li = el("li");
      if (body.length === 1) inline(li, body[0]);
      else blocks(li, body);
      node.appendChild(li);
    }
    root.appendChild(node);
    return i;
  }

  window.renderMarkdown = render;
})();
