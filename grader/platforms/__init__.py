"""Where courses run the grader: Gradescope, GitHub Classroom."""
