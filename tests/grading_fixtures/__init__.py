"""Submissions for the grader's tests: plausible wrong answers (mutants) and hostile code."""
