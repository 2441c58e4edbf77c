//go:build wasip1

package guest

import (
	"errors"
	"runtime"
	"strconv"

	"github.com/sesamehq/sesame/abi"
)

// The exports of SPEC.md §4. Each one reads its arguments into fresh
// buffers, decodes them with package abi, calls the registered vault, encodes
// and outputs the result, and returns a status; run turns an error into the
// status and its message. A panic is not recovered: it traps, and the host
// discards the instance.
//
// Messages made here name arguments, lengths and byte offsets only, never
// the bytes of a value or a password.

//go:wasmexport sesame_abi_v1
func exportABIv1() {}

//go:wasmexport sesame_manifest
func exportManifest() uint32 {
	return run(func() error { return output(registry.manifest) })
}

//go:wasmexport sesame_init
func exportInit(vaultLen, paramsLen uint32) uint32 {
	return run(func() error {
		in, ok := registry.vault.(Initializer)
		if !ok {
			return nil
		}
		vault, err := stringArgument(0, vaultLen, "vault")
		if err != nil {
			return err
		}
		b, err := argument(1, paramsLen)
		if err != nil {
			return err
		}
		params, err := abi.DecodeParams(b)
		if err != nil {
			return decodeFailed(1, "params", err)
		}
		return in.Init(vault, params)
	})
}

//go:wasmexport sesame_get
func exportGet(nameLen uint32) uint32 {
	return run(func() error {
		name, err := stringArgument(0, nameLen, "name")
		if err != nil {
			return err
		}
		info, v, err := registry.vault.Get(name)
		if err != nil {
			return err
		}
		if info.Name == "" {
			info.Name = name
		}
		if info.Type == 0 {
			info.Type = v.Type
		}
		if info.Type != v.Type {
			return Error(abi.Internal, "guest: Get returned an Info of type "+info.Type.String()+" with a value of type "+v.Type.String())
		}
		b, err := abi.AppendSecret(nil, info, v)
		if err != nil {
			return encodeFailed("Get", "secret", err)
		}
		defer clear(b)
		return output(b)
	})
}

//go:wasmexport sesame_stat
func exportStat(nameLen uint32) uint32 {
	return run(func() error {
		s, ok := registry.vault.(Statter)
		if !ok || !supports(abi.OpStat) {
			return unsupported(abi.OpStat)
		}
		name, err := stringArgument(0, nameLen, "name")
		if err != nil {
			return err
		}
		info, err := s.Stat(name)
		if err != nil {
			return err
		}
		if info.Name == "" {
			info.Name = name
		}
		b, err := abi.AppendInfo(nil, info)
		if err != nil {
			return encodeFailed("Stat", "info", err)
		}
		return output(b)
	})
}

//go:wasmexport sesame_set
func exportSet(nameLen, valueLen, metaLen uint32) uint32 {
	return run(func() error {
		name, v, md, err := setArguments(nameLen, valueLen, metaLen)
		if err != nil {
			return err
		}
		return registry.vault.Set(name, v, md)
	})
}

//go:wasmexport sesame_create
func exportCreate(nameLen, valueLen, metaLen uint32) uint32 {
	return run(func() error {
		c, ok := registry.vault.(Creator)
		if !ok || !supports(abi.OpCreate) {
			return unsupported(abi.OpCreate)
		}
		name, v, md, err := setArguments(nameLen, valueLen, metaLen)
		if err != nil {
			return err
		}
		return c.Create(name, v, md)
	})
}

// setArguments reads the arguments of sesame_set and sesame_create: the
// name, the value, the metadata (nil: none given).
func setArguments(nameLen, valueLen, metaLen uint32) (string, abi.Value, abi.Metadata, error) {
	name, err := stringArgument(0, nameLen, "name")
	if err != nil {
		return "", abi.Value{}, nil, err
	}
	raw, err := argument(1, valueLen)
	if err != nil {
		return "", abi.Value{}, nil, err
	}
	v, err := abi.DecodeValue(raw)
	clear(raw)
	if err != nil {
		return "", abi.Value{}, nil, decodeFailed(1, "value", err)
	}
	var md abi.Metadata // nil: no metadata given
	raw, err = argument(2, metaLen)
	if err != nil {
		return "", abi.Value{}, nil, err
	}
	if len(raw) > 0 {
		if md, err = abi.DecodeMetadata(raw); err != nil {
			return "", abi.Value{}, nil, decodeFailed(2, "metadata", err)
		}
	}
	return name, v, md, nil
}

//go:wasmexport sesame_members
func exportMembers(actionLen, argLen uint32) uint32 {
	return run(func() error {
		m, ok := registry.vault.(MemberManager)
		if !ok || !supports(abi.OpMembers) {
			return unsupported(abi.OpMembers)
		}
		action, err := stringArgument(0, actionLen, "action")
		if err != nil {
			return err
		}
		arg, err := stringArgument(1, argLen, "argument")
		if err != nil {
			return err
		}
		list, err := m.Members(action, arg)
		if err != nil {
			return err
		}
		b, err := abi.AppendMembers(nil, list)
		if err != nil {
			return encodeFailed("Members", "member list", err)
		}
		return output(b)
	})
}

//go:wasmexport sesame_remove
func exportRemove(nameLen uint32) uint32 {
	return run(func() error {
		name, err := stringArgument(0, nameLen, "name")
		if err != nil {
			return err
		}
		return registry.vault.Remove(name)
	})
}

//go:wasmexport sesame_list
func exportList(patternLen uint32) uint32 {
	return run(func() error {
		pattern, err := stringArgument(0, patternLen, "pattern")
		if err != nil {
			return err
		}
		list, err := registry.vault.List(pattern)
		if err != nil {
			return err
		}
		b, err := abi.AppendInfoList(nil, list)
		if err != nil {
			return encodeFailed("List", "info list", err)
		}
		return output(b)
	})
}

//go:wasmexport sesame_set_metadata
func exportSetMetadata(nameLen, metaLen uint32) uint32 {
	return run(func() error {
		s, ok := registry.vault.(MetadataSetter)
		if !ok || !supports(abi.OpSetMetadata) {
			return unsupported(abi.OpSetMetadata)
		}
		name, err := stringArgument(0, nameLen, "name")
		if err != nil {
			return err
		}
		raw, err := argument(1, metaLen)
		if err != nil {
			return err
		}
		md, err := abi.DecodeMetadata(raw)
		if err != nil {
			return decodeFailed(1, "metadata", err)
		}
		return s.SetMetadata(name, md)
	})
}

//go:wasmexport sesame_unlock
func exportUnlock(passwordLen uint32) uint32 {
	return run(func() error {
		l, ok := registry.vault.(Locker)
		if !ok || !supports(abi.OpUnlock) {
			return unsupported(abi.OpUnlock)
		}
		password, err := argument(0, passwordLen)
		if err != nil {
			return err
		}
		defer clear(password)
		return l.Unlock(password)
	})
}

//go:wasmexport sesame_lock
func exportLock() uint32 {
	return run(func() error {
		l, ok := registry.vault.(Locker)
		if !ok || !supports(abi.OpLock) {
			return unsupported(abi.OpLock)
		}
		return l.Lock()
	})
}

//go:wasmexport sesame_set_password
func exportSetPassword(oldLen, newLen uint32) uint32 {
	return run(func() error {
		p, ok := registry.vault.(PasswordSetter)
		if !ok || !supports(abi.OpSetPassword) {
			return unsupported(abi.OpSetPassword)
		}
		old, err := argument(0, oldLen)
		if err != nil {
			return err
		}
		defer clear(old)
		next, err := argument(1, newLen)
		if err != nil {
			return err
		}
		defer clear(next)
		return p.SetPassword(old, next)
	})
}

//go:wasmexport sesame_test
func exportTest() uint32 {
	return run(func() error {
		t, ok := registry.vault.(Tester)
		if !ok || !supports(abi.OpTest) {
			return unsupported(abi.OpTest)
		}
		return t.Test()
	})
}

//go:wasmexport sesame_unregister
func exportUnregister(argLen uint32) uint32 {
	return run(func() error {
		u, ok := registry.vault.(Unregisterer)
		if !ok || !supports(abi.OpUnregister) {
			return unsupported(abi.OpUnregister)
		}
		arg, err := argument(0, argLen)
		if err != nil {
			return err
		}
		if len(arg) != 1 || arg[0] > abi.UnregisterRemoveStorage {
			return Error(abi.InvalidArgument, "guest: argument 0 of sesame_unregister is not one byte 0 or 1")
		}
		return u.Unregister(arg[0] == abi.UnregisterRemoveStorage)
	})
}

// exportBatch tells a Batcher where a batch begins and ends; any other
// vault has nothing to do.
//
//go:wasmexport sesame_batch
func exportBatch(argLen uint32) uint32 {
	return run(func() error {
		arg, err := argument(0, argLen)
		if err != nil {
			return err
		}
		if len(arg) != 1 || arg[0] > abi.BatchEnd {
			return Error(abi.InvalidArgument, "guest: argument 0 of sesame_batch is not one byte 0 or 1")
		}
		if b, ok := registry.vault.(Batcher); ok {
			return b.Batch(arg[0])
		}
		return nil
	})
}

// run executes the body of an export and returns its status, sending the
// message of a failure with the error host function. It ends with
// runtime.Gosched: goroutines, the garbage collector's workers among them,
// only run while an export is active, so without this yield a guest that
// allocates grows without bound.
func run(body func() error) uint32 {
	defer runtime.Gosched()
	if registry.vault == nil {
		setError("guest: no vault registered: call guest.Register from an init function of the main package")
		return uint32(abi.Internal)
	}
	err := body()
	if err == nil {
		return uint32(abi.OK)
	}
	s, msg := statusOf(err)
	if msg != "" {
		setError(msg)
	}
	return uint32(s)
}

func unsupported(op abi.Op) error {
	return Error(abi.Unsupported, "this vault does not implement "+string(op))
}

// decodeFailed reports a malformed argument. For a value it gives only the
// byte offset: a decoding error may quote a hashtable key.
func decodeFailed(idx int, what string, err error) error {
	msg := "guest: argument " + strconv.Itoa(idx) + " (" + what + "): "
	var de *abi.DecodeError
	switch {
	case what == "value" && errors.As(err, &de):
		msg += "malformed at byte " + strconv.Itoa(de.Offset)
	default:
		msg += err.Error()
	}
	return Error(abi.InvalidArgument, msg)
}

// encodeFailed reports a result that a vault method returned and that cannot
// be encoded: TOO_LARGE for a size limit, INTERNAL (a bug in the vault)
// otherwise. The reason is left out: it may quote a hashtable key.
func encodeFailed(method, what string, err error) error {
	s := abi.Internal
	if errors.Is(err, abi.TooLarge) {
		s = abi.TooLarge
	}
	return Error(s, "guest: cannot encode the "+what+" that "+method+" returned ("+s.String()+")")
}
