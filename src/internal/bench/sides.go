package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"path/filepath"

	"github.com/containernetworking/cni/libcni"
)

// podCall is one pod sandbox as a runtime sees it.
type podCall struct {
	namespace   string
	name        string
	uid         string
	containerID string
	netnsName   string // "" for calls without a namespace (DEL of an unknown container)
}

func (p podCall) netnsPath() string {
	if p.netnsName == "" {
		return ""
	}
	return filepath.Join(NetnsDir, p.netnsName)
}

// runtimeConf is what containerd hands libcni for a pod sandbox.
func (p podCall) runtimeConf(ifName string) *libcni.RuntimeConf {
	args := [][2]string{
		{"IgnoreUnknown", "1"},
		{"K8S_POD_NAMESPACE", p.namespace},
		{"K8S_POD_NAME", p.name},
		{"K8S_POD_INFRA_CONTAINER_ID", p.containerID},
	}
	if p.uid != "" {
		args = append(args, [2]string{"K8S_POD_UID", p.uid})
	}
	return &libcni.RuntimeConf{ContainerID: p.containerID, NetNS: p.netnsPath(), IfName: ifName, Args: args}
}

func randomID(nbytes int) string {
	b := make([]byte, nbytes)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// side is what is being measured: a subject (shim + daemon) or the floor.
type side interface {
	add(ctx context.Context, p podCall) error
	del(ctx context.Context, p podCall) error
}

// shimSide calls the shim through libcni with the daemon's generated
// 00-multus.conf, as containerd does with a .conf file.
type shimSide struct {
	cni  *libcni.CNIConfig
	list *libcni.NetworkConfigList
}

func (s shimSide) add(ctx context.Context, p podCall) error {
	_, err := s.cni.AddNetworkList(ctx, s.list, p.runtimeConf("eth0"))
	return err
}

func (s shimSide) del(ctx context.Context, p podCall) error {
	return s.cni.DelNetworkList(ctx, s.list, p.runtimeConf("eth0"))
}

// floorSide runs what the meta-plugin delegates to, directly: the cluster
// network conflist on eth0, then the NAD's macvlan config on net1; DEL in
// reverse order. A failed secondary rolls the cluster network back, as the
// meta-plugin does.
type floorSide struct {
	cni     *libcni.CNIConfig
	cluster *libcni.NetworkConfigList
	macvlan *libcni.PluginConfig
}

func (f floorSide) add(ctx context.Context, p podCall) error {
	if _, err := f.cni.AddNetworkList(ctx, f.cluster, p.runtimeConf("eth0")); err != nil {
		return err
	}
	if _, err := f.cni.AddNetwork(ctx, f.macvlan, p.runtimeConf("net1")); err != nil {
		return errors.Join(err, f.cni.DelNetworkList(context.WithoutCancel(ctx), f.cluster, p.runtimeConf("eth0")))
	}
	return nil
}

func (f floorSide) del(ctx context.Context, p podCall) error {
	return errors.Join(
		f.cni.DelNetwork(ctx, f.macvlan, p.runtimeConf("net1")),
		f.cni.DelNetworkList(ctx, f.cluster, p.runtimeConf("eth0")),
	)
}
