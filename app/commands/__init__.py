"""Command-line front ends over `app.core`, one module per subcommand."""
