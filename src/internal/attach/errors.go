package attach

import (
	"errors"

	cnitypes "github.com/containernetworking/cni/pkg/types"

	"github.com/multus-thick/multus-thick/src/internal/delegate"
)

// Errors the server maps to CNI codes (see Code).
var (
	// ErrInvalidConfig: the Multus or delegate config is unusable, or the
	// delegates it yields conflict (duplicate or over-long interface
	// names, two default routes of one family). CNI code 7.
	ErrInvalidConfig = errors.New("invalid network config")
	// ErrInvalidRequest: a CNI variable is missing or malformed. CNI code 4.
	ErrInvalidRequest = errors.New("invalid request")
	// ErrTryAgain: a transient condition (the pod lookup failed for a
	// reason other than "not found"). CNI code 11.
	ErrTryAgain = errors.New("try again later")
)

// Code returns the CNI error code for err: the delegate's own code when a
// *cnitypes.Error is in the chain, else the code of our sentinels, else
// 999 (internal).
func Code(err error) uint {
	var cerr *cnitypes.Error
	switch {
	case err == nil:
		return 0
	case errors.As(err, &cerr) && cerr.Code != 0:
		return cerr.Code
	case errors.Is(err, ErrInvalidConfig), errors.Is(err, delegate.ErrInvalidConfig):
		return cnitypes.ErrInvalidNetworkConfig
	case errors.Is(err, ErrInvalidRequest):
		return cnitypes.ErrInvalidEnvironmentVariables
	case errors.Is(err, ErrTryAgain):
		return cnitypes.ErrTryAgainLater
	default:
		return cnitypes.ErrInternal
	}
}
