package abi_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/sesamehq/sesame/abi"
)

func TestStatus(t *testing.T) {
	tests := []struct {
		s     abi.Status
		code  uint32
		name  string
		known bool
		norm  abi.Status
	}{
		{abi.OK, 0, "ok", true, abi.OK},
		{abi.NotFound, 1, "not found", true, abi.NotFound},
		{abi.InvalidArgument, 2, "invalid argument", true, abi.InvalidArgument},
		{abi.PermissionDenied, 3, "permission denied", true, abi.PermissionDenied},
		{abi.Locked, 4, "locked", true, abi.Locked},
		{abi.Conflict, 5, "conflict", true, abi.Conflict},
		{abi.Unsupported, 6, "unsupported", true, abi.Unsupported},
		{abi.Unavailable, 7, "unavailable", true, abi.Unavailable},
		{abi.TooLarge, 8, "too large", true, abi.TooLarge},
		{abi.Internal, 9, "internal error", true, abi.Internal},
		{abi.DeadlineExceeded, 10, "deadline exceeded", true, abi.DeadlineExceeded},
		{abi.Status(11), 11, "status 11", false, abi.Internal},
		{abi.Status(1 << 31), 1 << 31, "status 2147483648", false, abi.Internal},
		{abi.Status(0xFFFFFFFF), 0xFFFFFFFF, "status 4294967295", false, abi.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if uint32(tt.s) != tt.code {
				t.Errorf("code %d, want %d (SPEC.md §6)", uint32(tt.s), tt.code)
			}
			if got := tt.s.String(); got != tt.name {
				t.Errorf("String() = %q, want %q", got, tt.name)
			}
			if got := tt.s.Error(); got != tt.name {
				t.Errorf("Error() = %q, want %q", got, tt.name)
			}
			if got := tt.s.Known(); got != tt.known {
				t.Errorf("Known() = %v, want %v", got, tt.known)
			}
			if got := tt.s.Normalize(); got != tt.norm {
				t.Errorf("Normalize() = %v, want %v", got, tt.norm)
			}
		})
	}
}

func TestStatusErrorsIs(t *testing.T) {
	var err error = abi.NotFound
	wrapped := fmt.Errorf("get %q: %w", "db/password", err)
	twice := fmt.Errorf("vault x: %w", wrapped)
	tests := []struct {
		err    error
		target error
		want   bool
	}{
		{wrapped, abi.NotFound, true},
		{twice, abi.NotFound, true},
		{twice, abi.Internal, false},
		{wrapped, abi.Status(1), true},
		{fmt.Errorf("x: %w", abi.Status(42).Normalize()), abi.Internal, true},
		{fmt.Errorf("x: %w", abi.Status(42)), abi.Internal, false}, // unnormalized codes are their own
		{&abi.DecodeError{What: "value"}, abi.InvalidArgument, true},
		{fmt.Errorf("x: %w", &abi.DecodeError{What: "value"}), abi.InvalidArgument, true},
		{&abi.EncodeError{What: "value", Err: abi.TooLarge}, abi.TooLarge, true},
		{&abi.EncodeError{What: "value", Err: abi.TooLarge}, abi.InvalidArgument, false},
	}
	for _, tt := range tests {
		if got := errors.Is(tt.err, tt.target); got != tt.want {
			t.Errorf("errors.Is(%v, %v) = %v, want %v", tt.err, tt.target, got, tt.want)
		}
	}
	var s abi.Status
	if !errors.As(twice, &s) || s != abi.NotFound {
		t.Errorf("errors.As found %v, want NotFound", s)
	}
}
