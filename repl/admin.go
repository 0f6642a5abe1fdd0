package repl

import "slices"

// IsAdmin reports whether name is one of the users who may migrate the
// server (Admins).
func (c *Config) IsAdmin(name string) bool { return slices.Contains(c.Admins, name) }
