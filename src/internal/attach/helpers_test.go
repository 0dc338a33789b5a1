package attach

import (
	cnitypes "github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/types/create"
)

func createResult(v string, raw []byte) (cnitypes.Result, error) { return create.Create(v, raw) }
