package repro

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/multus-thick/multus-thick/src/api"
)

// Plugin is a PLUGIN file that passed the checks.
type Plugin struct {
	Path   string
	Type   string // the NAD type it is installed under
	SHA256 string
	// Interpreter is the program the node needs to run it (an ELF's PT_INTERP or a
	// script's #! line); empty for a static binary.
	Interpreter string
}

// goarchMachine maps a node's architecture (Node.status.nodeInfo.architecture, GOARCH
// names) to the ELF machine and class it runs.
var goarchMachine = map[string]struct {
	machine elf.Machine
	class   elf.Class
}{
	"amd64":   {elf.EM_X86_64, elf.ELFCLASS64},
	"arm64":   {elf.EM_AARCH64, elf.ELFCLASS64},
	"386":     {elf.EM_386, elf.ELFCLASS32},
	"arm":     {elf.EM_ARM, elf.ELFCLASS32},
	"ppc64le": {elf.EM_PPC64, elf.ELFCLASS64},
	"s390x":   {elf.EM_S390, elf.ELFCLASS64},
	"riscv64": {elf.EM_RISCV, elf.ELFCLASS64},
}

// CheckPluginFile checks that path is something a node of arch can execute: an ELF
// executable for that machine, or a script with a #! line. It returns the interpreter the
// node must have.
func CheckPluginFile(path, arch string) (interpreter string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("PLUGIN %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("PLUGIN %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("PLUGIN %s is not a regular file", path)
	}
	head := make([]byte, 256)
	n, _ := f.Read(head)
	head = head[:n]
	if bytes.HasPrefix(head, []byte("#!")) {
		line, _, _ := bytes.Cut(head[2:], []byte("\n"))
		fields := strings.Fields(string(line))
		if len(fields) == 0 || !filepath.IsAbs(fields[0]) {
			return "", fmt.Errorf("PLUGIN %s: a script whose #! line names no absolute interpreter", path)
		}
		return fields[0], nil
	}
	if !bytes.HasPrefix(head, []byte(elf.ELFMAG)) {
		return "", fmt.Errorf("PLUGIN %s is neither an ELF executable nor a #! script (starts with %q)", path, printable(head, 8))
	}
	want, ok := goarchMachine[arch]
	if !ok {
		return "", fmt.Errorf("node architecture %q is not one the ELF check knows", arch)
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return "", fmt.Errorf("PLUGIN %s: bad ELF header: %w", path, err)
	}
	defer ef.Close()
	if ef.Machine != want.machine || ef.Class != want.class {
		return "", fmt.Errorf("PLUGIN %s is built for %s (%s), the node runs %s (%s %s): rebuild it with GOARCH=%s",
			path, ef.Machine, ef.Class, arch, want.machine, want.class, arch)
	}
	if ef.Type != elf.ET_EXEC && ef.Type != elf.ET_DYN || ef.Entry == 0 {
		return "", fmt.Errorf("PLUGIN %s is an ELF %s without an entry point, not an executable", path, ef.Type)
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			data := make([]byte, p.Filesz)
			if _, err := p.ReadAt(data, 0); err != nil {
				return "", fmt.Errorf("PLUGIN %s: read its interpreter: %w", path, err)
			}
			return strings.TrimRight(string(data), "\x00"), nil
		}
	}
	return "", nil
}

func printable(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

// fileSHA256 is the hex digest the node's sha256sum prints.
func fileSHA256(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

// NAD is a NetworkAttachmentDefinition file that passed the checks.
type NAD struct {
	Name   string
	Config []byte   // spec.config as written
	Types  []string // the types libcni runs, in order (one, or each of a conflist's plugins)
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// ParseNAD checks a NAD file: one NetworkAttachmentDefinition with an inline config that
// parses, each plugin naming a type.
func ParseNAD(file string, data []byte) (*NAD, error) {
	doc, err := singleDoc(data)
	if err != nil {
		return nil, fmt.Errorf("NAD %s: %w", file, err)
	}
	var obj struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			Config string `json:"config"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(doc, &obj); err != nil {
		return nil, fmt.Errorf("NAD %s is not YAML: %w", file, err)
	}
	if obj.Kind != "NetworkAttachmentDefinition" || obj.APIVersion != "k8s.cni.cncf.io/v1" {
		return nil, fmt.Errorf("NAD %s is a %q of %q, not a NetworkAttachmentDefinition of k8s.cni.cncf.io/v1", file, obj.Kind, obj.APIVersion)
	}
	name := obj.Metadata.Name
	if !dnsLabel.MatchString(name) || len(name) > 63 {
		return nil, fmt.Errorf("NAD %s: metadata.name %q is not a DNS label", file, name)
	}
	if strings.TrimSpace(obj.Spec.Config) == "" {
		return nil, fmt.Errorf("NAD %s has no spec.config: repro needs the CNI config inline", file)
	}
	types, err := configTypes([]byte(obj.Spec.Config))
	if err != nil {
		return nil, fmt.Errorf("NAD %s: spec.config: %w", file, err)
	}
	return &NAD{Name: name, Config: []byte(obj.Spec.Config), Types: types}, nil
}

// singleDoc returns the one YAML document in data.
func singleDoc(data []byte) ([]byte, error) {
	var docs [][]byte
	var cur bytes.Buffer
	flush := func() {
		if len(bytes.TrimSpace(stripComments(cur.Bytes()))) > 0 {
			docs = append(docs, slices.Clone(cur.Bytes()))
		}
		cur.Reset()
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		if strings.TrimRight(sc.Text(), " \t") == "---" {
			flush()
			continue
		}
		cur.Write(sc.Bytes())
		cur.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	flush()
	switch len(docs) {
	case 0:
		return nil, errors.New("the file is empty")
	case 1:
		return docs[0], nil
	}
	return nil, fmt.Errorf("the file holds %d YAML documents; put one NAD in it", len(docs))
}

func stripComments(b []byte) []byte {
	var out bytes.Buffer
	for _, l := range bytes.Split(b, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			out.Write(l)
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}

// configTypes parses a CNI config or conflist and returns its plugin types.
func configTypes(config []byte) ([]string, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(config, &top); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	plugins, isList := top["plugins"]
	if !isList {
		t, err := pluginType(top, "the config")
		if err != nil {
			return nil, err
		}
		return []string{t}, nil
	}
	var list []map[string]json.RawMessage
	if err := json.Unmarshal(plugins, &list); err != nil {
		return nil, fmt.Errorf("plugins is not a list of objects: %w", err)
	}
	if len(list) == 0 {
		return nil, errors.New("plugins is empty")
	}
	var types []string
	for i, p := range list {
		t, err := pluginType(p, fmt.Sprintf("plugins[%d]", i))
		if err != nil {
			return nil, err
		}
		types = append(types, t)
	}
	return types, nil
}

func pluginType(obj map[string]json.RawMessage, where string) (string, error) {
	raw, ok := obj["type"]
	if !ok {
		return "", fmt.Errorf("%s has no type", where)
	}
	var t string
	if err := json.Unmarshal(raw, &t); err != nil || t == "" {
		return "", fmt.Errorf("%s: type %s is not a plugin name", where, raw)
	}
	if strings.ContainsAny(t, `/\`) || t == "." || t == ".." {
		return "", fmt.Errorf("%s: type %q is not a plugin name", where, t)
	}
	return t, nil
}

// Distinct returns the NAD's types once each, sorted.
func (n *NAD) Distinct() []string {
	out := slices.Clone(n.Types)
	sort.Strings(out)
	return slices.Compact(out)
}

// PluginType is the NAD type PLUGIN is installed under: the type equal to the file's base
// name, else the NAD's only type.
func (n *NAD) PluginType(pluginPath string) (string, error) {
	base := filepath.Base(pluginPath)
	types := n.Distinct()
	if slices.Contains(types, base) {
		return base, nil
	}
	if len(types) == 1 {
		return types[0], nil
	}
	return "", fmt.Errorf("PLUGIN %s: its name is none of the NAD's types %v; name the file after the type it implements", pluginPath, types)
}

// Wrapped returns the NAD's config with every type in wrap replaced by the recorder's
// name for it; everything else stays byte for byte where JSON allows (keys re-sorted).
func (n *NAD) Wrapped(wrap func(typ string) string) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(n.Config, &top); err != nil {
		return nil, err
	}
	if _, isList := top["plugins"]; !isList {
		if err := rewriteType(top, wrap); err != nil {
			return nil, err
		}
		return json.Marshal(top)
	}
	var list []map[string]json.RawMessage
	if err := json.Unmarshal(top["plugins"], &list); err != nil {
		return nil, err
	}
	for _, p := range list {
		if err := rewriteType(p, wrap); err != nil {
			return nil, err
		}
	}
	raw, err := json.Marshal(list)
	if err != nil {
		return nil, err
	}
	top["plugins"] = raw
	return json.Marshal(top)
}

func rewriteType(obj map[string]json.RawMessage, wrap func(string) string) error {
	var t string
	if err := json.Unmarshal(obj["type"], &t); err != nil {
		return err
	}
	raw, err := json.Marshal(wrap(t))
	if err != nil {
		return err
	}
	obj["type"] = raw
	return nil
}

// Object is the NAD to apply in namespace with config.
func (n *NAD) Object(namespace string, config []byte) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "k8s.cni.cncf.io/v1",
		"kind":       "NetworkAttachmentDefinition",
		"metadata":   map[string]any{"name": n.Name, "namespace": namespace},
		"spec":       map[string]any{"config": string(config)},
	}}
	return u
}

// ParsePod checks a POD file: one Pod, whose networks annotation (if any) names the NAD.
// The repro sets its namespace and node.
func ParsePod(file string, data []byte, nad string) (*corev1.Pod, error) {
	doc, err := singleDoc(data)
	if err != nil {
		return nil, fmt.Errorf("POD %s: %w", file, err)
	}
	pod := &corev1.Pod{}
	if err := yaml.UnmarshalStrict(doc, pod); err != nil {
		return nil, fmt.Errorf("POD %s: %w", file, err)
	}
	if pod.Kind != "Pod" || pod.APIVersion != "v1" {
		return nil, fmt.Errorf("POD %s is a %q of %q, not a v1 Pod", file, pod.Kind, pod.APIVersion)
	}
	if len(pod.Spec.Containers) == 0 {
		return nil, fmt.Errorf("POD %s has no containers", file)
	}
	if pod.Name == "" {
		pod.Name = "repro"
	}
	if !dnsLabel.MatchString(pod.Name) || len(pod.Name) > 50 {
		return nil, fmt.Errorf("POD %s: metadata.name %q is not a DNS label of at most 50 characters", file, pod.Name)
	}
	ann := pod.Annotations[api.NetworksAnnotation]
	if ann == "" {
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[api.NetworksAnnotation] = nad
	} else if !strings.Contains(ann, nad) {
		return nil, fmt.Errorf("POD %s: its %s annotation %q does not name the NAD %q", file, api.NetworksAnnotation, ann, nad)
	}
	return pod, nil
}

// DefaultPod is the test pod used without POD: the lab's busybox image, asleep, attached
// to the NAD.
func DefaultPod(image, nad string) *corev1.Pod {
	grace := int64(0)
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "repro", Annotations: map[string]string{api.NetworksAnnotation: nad}},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{
				Name: "main", Image: image, ImagePullPolicy: corev1.PullNever,
				Command: []string{"/bin/busybox", "sleep", "3600"},
			}},
		},
	}
}

// NodeInfo is what the node check needs of a Node.
type NodeInfo struct {
	Name         string
	ControlPlane bool
	Arch         string
}

// PickNode returns the worker named want, or the first worker by name when want is empty.
func PickNode(nodes []NodeInfo, want string) (NodeInfo, error) {
	var workers []string
	for _, n := range nodes {
		if !n.ControlPlane {
			workers = append(workers, n.Name)
		}
	}
	sort.Strings(workers)
	if want == "" {
		if len(workers) == 0 {
			return NodeInfo{}, errors.New("the cluster has no worker node")
		}
		want = workers[0]
	}
	for _, n := range nodes {
		if n.Name != want {
			continue
		}
		if n.ControlPlane {
			return NodeInfo{}, fmt.Errorf("NODE %s is a control-plane node, not a worker (workers: %v)", want, workers)
		}
		return n, nil
	}
	return NodeInfo{}, fmt.Errorf("NODE %s is not a node of the cluster (workers: %v)", want, workers)
}
