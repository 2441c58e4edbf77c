//go:build wasip1

package guest

import (
	"bytes"

	"github.com/sesamehq/sesame/abi"
)

// The storage functions reach the vault's private key-value area, kept by
// the host (SPEC.md §5.3). They need the "storage" grant: list
// abi.GrantStorage in the manifest's Grants, or every call fails with an
// error wrapping abi.PermissionDenied. Keys are 1–1024 bytes and values at
// most 2 MiB. Each call is atomic, and durable once the export returns OK.
//
// Errors are *HostError values that wrap the status the host returned, so
// errors.Is(err, abi.NotFound) tells a missing key. Returned as is from a
// Vault method, such an error reaches the host with that status and its text
// ("sesame_v1.kv_get: not found") as the message; return abi.NotFound itself
// to send the status alone.

// First buffer sizes for the calls that return bytes; a larger result costs
// one more call.
const (
	kvGetBuffer  = 4 << 10
	kvListBuffer = 64 << 10
	kvScanBuffer = 256 << 10 // the host fills a page to the buffer given: a full page of small records
	kvRetries    = 4         // the value may change between two calls
)

// KVGet returns the value stored under key, or an error wrapping
// abi.NotFound when there is none.
func KVGet(key []byte) ([]byte, error) {
	buf := make([]byte, kvGetBuffer)
	for range kvRetries {
		n := hostKVGet(ptr(key), uint32(len(key)), ptr(buf), uint32(len(buf)))
		switch {
		case n < 0:
			return nil, &HostError{Func: abi.ImportKVGet, Status: negStatus(n)}
		case n <= int64(len(buf)):
			return buf[:n:n], nil
		case n > abi.MaxCallBytes:
			return nil, &HostError{Func: abi.ImportKVGet, Status: abi.Internal}
		}
		buf = make([]byte, n)
	}
	return nil, &HostError{Func: abi.ImportKVGet, Status: abi.Unavailable}
}

// KVSet stores value under key, replacing what was there.
func KVSet(key, value []byte) error {
	if s := abi.Status(hostKVSet(ptr(key), uint32(len(key)), ptr(value), uint32(len(value)))); s != abi.OK {
		return &HostError{Func: abi.ImportKVSet, Status: s.Normalize()}
	}
	return nil
}

// KVAdd stores value under key only if key is not stored yet: it returns an
// error wrapping abi.Conflict, and writes nothing, when it is. Of several
// processes adding one key at once exactly one succeeds, which makes it the
// way to create a record that must be created once (a store's key).
func KVAdd(key, value []byte) error {
	if s := abi.Status(hostKVAdd(ptr(key), uint32(len(key)), ptr(value), uint32(len(value)))); s != abi.OK {
		return &HostError{Func: abi.ImportKVAdd, Status: s.Normalize()}
	}
	return nil
}

// KVDelete deletes key, or returns an error wrapping abi.NotFound when it is
// not stored.
func KVDelete(key []byte) error {
	if s := abi.Status(hostKVDelete(ptr(key), uint32(len(key)))); s != abi.OK {
		return &HostError{Func: abi.ImportKVDelete, Status: s.Normalize()}
	}
	return nil
}

// KVList returns one page of the keys that start with prefix and sort
// strictly after after (nil: from the first), in byte order, at most 256 of
// them. An empty page ends the iteration; the last key of a page is the
// after of the next. KVScan does the paging.
func KVList(prefix, after []byte) ([][]byte, error) {
	buf := make([]byte, kvListBuffer)
	for range kvRetries {
		n := hostKVList(ptr(prefix), uint32(len(prefix)), ptr(after), uint32(len(after)), ptr(buf), uint32(len(buf)))
		switch {
		case n < 0:
			return nil, &HostError{Func: abi.ImportKVList, Status: negStatus(n)}
		case n <= int64(len(buf)):
			keys, err := abi.DecodeKeyList(buf[:n])
			if err != nil {
				return nil, Error(abi.Internal, "guest: "+abi.ImportModule+"."+abi.ImportKVList+" returned a malformed key list")
			}
			return keys, nil
		case n > abi.MaxCallBytes:
			return nil, &HostError{Func: abi.ImportKVList, Status: abi.Internal}
		}
		buf = make([]byte, n)
	}
	return nil, &HostError{Func: abi.ImportKVList, Status: abi.Unavailable}
}

// KVScan calls fn with every key that starts with prefix, in byte order,
// until fn returns false. Keys added or deleted during the scan may or may
// not be seen.
func KVScan(prefix []byte, fn func(key []byte) bool) error {
	var after []byte
	for {
		keys, err := KVList(prefix, after)
		if err != nil || len(keys) == 0 {
			return err
		}
		if after != nil && bytes.Compare(keys[0], after) <= 0 {
			// A host that ignores after would loop forever.
			return Error(abi.Internal, "guest: "+abi.ImportModule+"."+abi.ImportKVList+" returned a page that does not advance")
		}
		for _, k := range keys {
			if !fn(k) {
				return nil
			}
		}
		after = keys[len(keys)-1]
	}
}

// KVScanPage returns one page of the entries whose keys start with prefix
// and sort strictly after after (nil: from the first), in byte order, with
// their values, read by the host in one storage transaction: at most 256
// entries and 1 MiB, and at least one if any remain. An empty page ends the
// iteration; the last key of a page is the after of the next. KVEntries
// does the paging.
//
// It imports the optional kv_scan (SPEC.md §5.3): a module that calls it
// needs sesame 0.4 or later, and older hosts refuse it at load.
func KVScanPage(prefix, after []byte) ([]abi.KV, error) {
	return kvScanPage(prefix, after, make([]byte, kvScanBuffer))
}

// kvScanPage is KVScanPage reading into buf, or a larger buffer when the
// first entry does not fit.
func kvScanPage(prefix, after, buf []byte) ([]abi.KV, error) {
	for range kvRetries {
		n := hostKVScan(ptr(prefix), uint32(len(prefix)), ptr(after), uint32(len(after)), ptr(buf), uint32(len(buf)))
		switch {
		case n < 0:
			return nil, &HostError{Func: abi.ImportKVScan, Status: negStatus(n)}
		case n <= int64(len(buf)):
			kvs, err := abi.DecodeEntryList(buf[:n])
			if err != nil {
				return nil, Error(abi.Internal, "guest: "+abi.ImportModule+"."+abi.ImportKVScan+" returned a malformed entry list")
			}
			return kvs, nil
		case n > abi.MaxCallBytes:
			return nil, &HostError{Func: abi.ImportKVScan, Status: abi.Internal}
		}
		buf = make([]byte, n)
	}
	return nil, &HostError{Func: abi.ImportKVScan, Status: abi.Unavailable}
}

// KVEntries calls fn with every key that starts with prefix and its value,
// in byte order, until fn returns false: a page of entries per host call,
// where KVScan and KVGet make one call per key. Entries written during the
// scan may or may not be seen. Like KVScanPage, it needs kv_scan.
func KVEntries(prefix []byte, fn func(key, value []byte) bool) error {
	buf := make([]byte, kvScanBuffer)
	var after []byte
	for {
		kvs, err := kvScanPage(prefix, after, buf)
		if err != nil || len(kvs) == 0 {
			return err
		}
		if after != nil && bytes.Compare(kvs[0].Key, after) <= 0 {
			// A host that ignores after would loop forever.
			return Error(abi.Internal, "guest: "+abi.ImportModule+"."+abi.ImportKVScan+" returned a page that does not advance")
		}
		for _, kv := range kvs {
			if !fn(kv.Key, kv.Value) {
				return nil
			}
		}
		after = kvs[len(kvs)-1].Key
	}
}
