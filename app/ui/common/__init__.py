"""Feature-free helpers several rooms need: settings, worker threads, the tensor drag MIME
type, home-folder paths. Imports app.core and Qt only, never a feature or the shell."""
