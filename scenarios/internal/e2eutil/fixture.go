//go:build e2e

package e2eutil

import (
	"encoding/json"
	"fmt"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/e2e-framework/klient/decoder"
	"sigs.k8s.io/e2e-framework/klient/k8s"

	"github.com/multus-thick/multus-thick/fixtures"
	"github.com/multus-thick/multus-thick/src/api"
)

// TestPodFixture is the one pod shape every scenario uses: a busybox that
// sleeps, with NET_RAW for ping. What differs between scenarios (name,
// node, networks annotation) is applied by mutation.
const TestPodFixture = "pods/busybox-sleep.yaml"

// LoadNAD reads a NAD fixture into namespace ns.
func LoadNAD(path, ns string, opts ...decoder.DecodeOption) (*nadv1.NetworkAttachmentDefinition, error) {
	nad := &nadv1.NetworkAttachmentDefinition{}
	opts = append([]decoder.DecodeOption{decoder.MutateNamespace(ns)}, opts...)
	if err := decoder.DecodeFile(fixtures.FS(), path, nad, opts...); err != nil {
		return nil, fmt.Errorf("fixture %s: %w", path, err)
	}
	return nad, nil
}

// LoadPod reads the test pod fixture as pod name in namespace ns, with the
// suite's test image and pull policy.
func (l *Lab) LoadPod(ns, name string, opts ...decoder.DecodeOption) (*corev1.Pod, error) {
	pod := &corev1.Pod{}
	base := []decoder.DecodeOption{decoder.MutateNamespace(ns), Named(name), decoder.MutateOption(func(o k8s.Object) error {
		for i := range o.(*corev1.Pod).Spec.Containers {
			o.(*corev1.Pod).Spec.Containers[i].Image = l.S.TestImage
			o.(*corev1.Pod).Spec.Containers[i].ImagePullPolicy = corev1.PullPolicy(l.S.PullPolicy)
		}
		return nil
	})}
	if err := decoder.DecodeFile(fixtures.FS(), TestPodFixture, pod, append(base, opts...)...); err != nil {
		return nil, fmt.Errorf("fixture %s: %w", TestPodFixture, err)
	}
	return pod, nil
}

// Named renames the object.
func Named(name string) decoder.DecodeOption {
	return decoder.MutateOption(func(o k8s.Object) error {
		o.SetName(name)
		return nil
	})
}

// OnNode pins a pod to node through the scheduler (a hostname node
// selector), so the normal scheduling path is kept.
func OnNode(node string) decoder.DecodeOption {
	return decoder.MutateOption(func(o k8s.Object) error {
		pod, ok := o.(*corev1.Pod)
		if !ok {
			return fmt.Errorf("OnNode: %T is not a pod", o)
		}
		if pod.Spec.NodeSelector == nil {
			pod.Spec.NodeSelector = map[string]string{}
		}
		pod.Spec.NodeSelector["kubernetes.io/hostname"] = node
		return nil
	})
}

// Networks sets the pod's k8s.v1.cni.cncf.io/networks annotation; the value
// is written out in each scenario because it is what the scenario tests.
func Networks(value string) decoder.DecodeOption {
	return decoder.MutateAnnotations(map[string]string{api.NetworksAnnotation: value})
}

// NADConfig edits a NAD's spec.config as a JSON object, for the few
// scenarios that vary one key over a table (cniVersion) or switch a fault
// on and off.
func NADConfig(edit func(conf map[string]any)) decoder.DecodeOption {
	return decoder.MutateOption(func(o k8s.Object) error {
		nad, ok := o.(*nadv1.NetworkAttachmentDefinition)
		if !ok {
			return fmt.Errorf("NADConfig: %T is not a NAD", o)
		}
		return EditNADConfig(nad, edit)
	})
}

// EditNADConfig applies edit to nad's spec.config in place.
func EditNADConfig(nad *nadv1.NetworkAttachmentDefinition, edit func(conf map[string]any)) error {
	conf := map[string]any{}
	if err := json.Unmarshal([]byte(nad.Spec.Config), &conf); err != nil {
		return fmt.Errorf("NAD %s spec.config: %w", nad.Name, err)
	}
	edit(conf)
	b, err := json.Marshal(conf)
	if err != nil {
		return fmt.Errorf("NAD %s spec.config: %w", nad.Name, err)
	}
	nad.Spec.Config = string(b)
	return nil
}

// LoadNAD is the package's LoadNAD with the suite's settings applied: the
// fixtures' macvlan master (eth0, a kind node's link) becomes S.Master, so
// the same fixtures run on a cluster whose nodes name their link otherwise.
func (l *Lab) LoadNAD(path, ns string, opts ...decoder.DecodeOption) (*nadv1.NetworkAttachmentDefinition, error) {
	return LoadNAD(path, ns, append([]decoder.DecodeOption{WithMaster(l.S.Master)}, opts...)...)
}

// WithMaster sets the "master" key of a NAD's config, and of each plugin
// of a conflist, to master wherever the fixture sets one. A config that
// already says master is left byte for byte as the fixture wrote it.
func WithMaster(master string) decoder.DecodeOption {
	return decoder.MutateOption(func(o k8s.Object) error {
		nad, ok := o.(*nadv1.NetworkAttachmentDefinition)
		if !ok || master == "" {
			return nil
		}
		conf := map[string]any{}
		if err := json.Unmarshal([]byte(nad.Spec.Config), &conf); err != nil {
			return fmt.Errorf("NAD %s spec.config: %w", nad.Name, err)
		}
		if !SetMaster(conf, master) {
			return nil
		}
		b, err := json.Marshal(conf)
		if err != nil {
			return fmt.Errorf("NAD %s spec.config: %w", nad.Name, err)
		}
		nad.Spec.Config = string(b)
		return nil
	})
}

// SetMaster rewrites every "master" key of conf (top level and plugins)
// to master and reports whether anything changed.
func SetMaster(conf map[string]any, master string) bool {
	changed := false
	set := func(m map[string]any) {
		if v, ok := m["master"]; ok && v != master {
			m["master"] = master
			changed = true
		}
	}
	set(conf)
	plugins, _ := conf["plugins"].([]any)
	for _, p := range plugins {
		if m, ok := p.(map[string]any); ok {
			set(m)
		}
	}
	return changed
}
