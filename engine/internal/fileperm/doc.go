// Package fileperm decides whether sesame may trust a file or a folder it
// reads or writes: the registry (vaults.toml) and its lock file, the
// vaults' storage files, the compile cache and the key that seals it.
//
// The rule is ssh's (StrictModes, safe_path): a file, and every folder on
// the way to it up to "/", must belong to the user running sesame or to
// root, and must not be writable by its group or by others. Whoever else
// can write any of them can decide what sesame reads: a vault registered
// with a grant on the victim's home, a storage file that is a link into the
// victim's files. One exception, which ssh does not make: a folder of root
// with the sticky bit (/tmp) is accepted although everyone may write in
// it, because the sticky bit keeps other users from renaming or removing
// what they do not own, so the folders sesame's path goes through stay the
// user's own (a folder planted there by someone else belongs to them and
// is refused).
//
// Symbolic links: a link is accepted on the way to a file or a folder when
// it belongs to the user or root, and its target is then checked like the
// path itself (many users keep vaults.toml as a link into a dotfiles
// repository; ssh accepts a linked config the same way). Where sesame
// opens or creates a file whose name it decides itself (a lock file, a
// storage file), it opens it with O_NOFOLLOW: a link there was planted, and
// is refused.
//
// Every refusal is an *Error naming the path, what is wrong, and the
// command that fixes it, for example
//
//	/srv/proj/vaults.toml can be written by its group (mode 0664); sesame does not trust it (fix: chmod go-w /srv/proj/vaults.toml)
//
// On systems without Unix owners and modes (Windows) only the checks on
// links and file types apply.
package fileperm
