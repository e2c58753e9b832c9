// Package users is Keyward's built-in user directory: the users file
// (JSON or YAML) that backs the reference login UI's password check and the
// default claims source. Passwords are stored only as PHC argon2id or bcrypt
// hashes; plain text is refused when the file is loaded.
//
// It imports only the standard library, package plugin, x/crypto and the
// YAML decoder; it must not import internal/... packages, store or any
// other plug-in.
package users
