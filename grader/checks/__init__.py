"""The checks, grouped by the property family they establish; each kata picks
the modules and checks it needs in katas/course.toml."""
