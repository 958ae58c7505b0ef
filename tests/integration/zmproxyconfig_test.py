"""zmproxyconfig: placeholder, being written."""
