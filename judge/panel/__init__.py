"""Panels of judges: members with their own endpoints, aggregation, inter-judge agreement."""
