// Package server is Keyward's composition root: it turns a validated
// config.Config into running stores, keys, plug-ins, protocol services and
// HTTP handlers, and runs and stops them. It is the only package that knows
// the concrete types; it is public so that a downstream main can build a
// server with plug-ins of its own (Options).
package server
