// Package delegate runs delegate CNI plugins through libcni: it builds the
// libcni objects from a netconf.Delegate, bounds every call with a
// deadline and a shared concurrency pool, and names the delegate once in
// the errors it returns. Exec is the invoke.Exec the daemon uses, with
// optional chroot into the host root.
package delegate
