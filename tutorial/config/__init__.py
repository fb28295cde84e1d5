"""What every room stands on: the one reader of settings, and the WSGI
middleware that includes put around the app main() makes."""
