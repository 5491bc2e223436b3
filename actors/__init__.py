"""A small actor runtime on Pykka: refs, monitors, inboxes and supervision."""
