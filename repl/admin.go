package repl

import "slices"

// IsAdmin reports whether name is one of the users who may migrate the
// server (Config.Admins).
func (s *Server) IsAdmin(name string) bool { return slices.Contains(s.cfg.Admins, name) }
