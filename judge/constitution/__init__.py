"""Constitutions: plain-text principles, parsed, validated and rendered."""

from judge.constitution.loading import check_file, check_text, load, load_checked, parse
from judge.constitution.model import Constitution, Principle, Scale
from judge.constitution.problems import ConstitutionError, Problem
from judge.constitution.render import render

__all__ = [
    "Constitution",
    "ConstitutionError",
    "Principle",
    "Problem",
    "Scale",
    "check_file",
    "check_text",
    "load",
    "load_checked",
    "parse",
    "render",
]
