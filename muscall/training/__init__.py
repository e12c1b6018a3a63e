"""Training recipes: data, objective, distributed helpers and the trainer."""
