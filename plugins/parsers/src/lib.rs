//! Pure parsers of remote command outputs that more than one built-in plugin reads.
