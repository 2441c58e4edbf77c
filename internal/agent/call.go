package agent

import (
	"reflect"

	"github.com/sesamehq/sesame/engine/api"
)

// The agent carries any api.Call without knowing it: the call's fields
// travel as the codec encodes them (codec.go), its result as an interface
// value, and three things are found by walking the call's value rather than
// by a case per operation:
//
//   - its callbacks, which cannot travel: a field of type
//     func(api.Action) bool is a confirmation, asked of the client
//     (Change.Confirm); a field of type func(api.StorageReport) is a
//     report, sent back with the response (RegisterRequest.Report);
//   - its byte slices (passwords, secret values, the environment variables
//     the client sent),
//     zeroed once the call is served;
//   - the result's byte slices (a secret's value), zeroed once sent.
//
// An operation added to api.Operations is carried with no change here.

var (
	confirmType = reflect.TypeFor[func(api.Action) bool]()
	reportType  = reflect.TypeFor[func(api.StorageReport)]()
)

// hooks are a call's callbacks.
type hooks struct {
	confirm func(api.Action) bool
	report  func(api.StorageReport)
}

// hooksOf returns the callbacks set in c's fields (the first of each kind).
func hooksOf(c api.Call) hooks {
	var h hooks
	eachFunc(reflect.ValueOf(c), func(f reflect.Value) {
		switch {
		case f.IsNil():
		case f.Type() == confirmType && h.confirm == nil:
			h.confirm = f.Interface().(func(api.Action) bool)
		case f.Type() == reportType && h.report == nil:
			h.report = f.Interface().(func(api.StorageReport))
		}
	})
	return h
}

// withHooks returns a copy of c whose callback fields are those of h.
func withHooks(c api.Call, h hooks) api.Call {
	v := reflect.New(reflect.TypeOf(c)).Elem()
	v.Set(reflect.ValueOf(c))
	eachFunc(v, func(f reflect.Value) {
		switch {
		case !f.CanSet():
		case f.Type() == confirmType && h.confirm != nil:
			f.Set(reflect.ValueOf(h.confirm))
		case f.Type() == reportType && h.report != nil:
			f.Set(reflect.ValueOf(h.report))
		}
	})
	return v.Interface().(api.Call)
}

// eachFunc calls fn with each func field of the struct v, and of the
// structs in its fields, depth first.
func eachFunc(v reflect.Value, fn func(reflect.Value)) {
	if v.Kind() != reflect.Struct {
		return
	}
	for i := range v.NumField() {
		switch f := v.Field(i); f.Kind() {
		case reflect.Func:
			fn(f)
		case reflect.Struct:
			eachFunc(f, fn)
		}
	}
}

// wipe zeroes every byte slice reachable from v: in exported fields,
// elements, map values, interface values and pointers. Strings cannot be zeroed. It is for
// values decoded from the wire, or made by the engine for one call, whose
// bytes no one else holds.
func wipe(v reflect.Value) {
	switch v.Kind() {
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			clear(v.Bytes())
			return
		}
		for i := range v.Len() {
			wipe(v.Index(i))
		}
	case reflect.Array:
		for i := range v.Len() {
			wipe(v.Index(i))
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() { // the rest is not the call's data (time.Time's location)
				wipe(v.Field(i))
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			wipe(it.Value())
		}
	case reflect.Interface, reflect.Pointer:
		if !v.IsNil() {
			wipe(v.Elem())
		}
	}
}
