// Package deployments holds the manifests that install multus-thick on a
// cluster, one kind per file, and derives from them the two ways they are
// applied: the single file an operator applies with `kubectl apply -f`
// (multus-daemonset-thick.yml, generated, kept in sync by a test) and the
// lab's objects with kustomization.yaml's image override.
//
// kustomization.yaml stays usable by `kubectl apply -k`; this package reads
// only its `resources` and `images` fields and rejects any other, so that
// what kustomize would apply and what the lab applies cannot drift apart.
package deployments

import (
	"bufio"
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// BundleFile is the generated single manifest, relative to this directory.
const BundleFile = "multus-daemonset-thick.yml"

// UpstreamFile is the DaemonSet in upstream's shape with our image
// (hand-written, not generated), relative to this directory.
const UpstreamFile = "upstream/multus-daemonset-thick.yml"

//go:embed *.yaml multus-daemonset-thick.yml upstream/multus-daemonset-thick.yml
var files embed.FS

// bundleHeader opens the generated file; it says where the content comes from.
const bundleHeader = `# multus-thick: everything a cluster needs, in one file.
#   kubectl apply -f deployments/multus-daemonset-thick.yml
# GENERATED from the files listed in deployments/kustomization.yaml by
# ` + "`make lab-manifests`" + `; edit those files, not this one.
`

// Kustomization is the subset of kustomize's file this package supports.
type Kustomization struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Resources  []string        `json:"resources"`
	Images     []ImageOverride `json:"images,omitempty"`
}

// ImageOverride is one entry of kustomization's images list.
type ImageOverride struct {
	Name    string `json:"name"`
	NewName string `json:"newName,omitempty"`
	NewTag  string `json:"newTag,omitempty"`
}

// Ref returns the image reference the override produces for an image named
// o.Name (tagged or not).
func (o ImageOverride) Ref(orig string) string {
	name, tag := splitImage(orig)
	if o.NewName != "" {
		name = o.NewName
	}
	if o.NewTag != "" {
		tag = o.NewTag
	}
	if tag == "" {
		return name
	}
	return name + ":" + tag
}

// File is one manifest file.
type File struct {
	Name string
	Data []byte
}

// ReadKustomization parses kustomization.yaml strictly: an unknown field is
// an error, because the lab would silently ignore it.
func ReadKustomization() (Kustomization, error) {
	data, err := files.ReadFile("kustomization.yaml")
	if err != nil {
		return Kustomization{}, fmt.Errorf("read kustomization.yaml: %w", err)
	}
	return parseKustomization(data)
}

func parseKustomization(data []byte) (Kustomization, error) {
	var k Kustomization
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		return Kustomization{}, fmt.Errorf("kustomization.yaml (only apiVersion, kind, resources and images are supported): %w", err)
	}
	if len(k.Resources) == 0 {
		return Kustomization{}, errors.New("kustomization.yaml lists no resources")
	}
	return k, nil
}

// Resources returns the files kustomization.yaml lists, in its order.
func Resources() ([]File, error) {
	k, err := ReadKustomization()
	if err != nil {
		return nil, err
	}
	out := make([]File, 0, len(k.Resources))
	for _, name := range k.Resources {
		data, err := files.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("kustomization resource %q: %w", name, err)
		}
		out = append(out, File{Name: name, Data: data})
	}
	return out, nil
}

// Bundle renders the single operator manifest from the resource files. The
// per-kind files are copied verbatim (comments included) so that the bundle
// explains itself as well as they do.
func Bundle() ([]byte, error) {
	res, err := Resources()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(bundleHeader)
	for _, f := range res {
		fmt.Fprintf(&b, "---\n# Source: deployments/%s\n", f.Name)
		b.Write(bytes.TrimRight(f.Data, "\n"))
		b.WriteString("\n")
	}
	return b.Bytes(), nil
}

// Committed returns the committed multus-daemonset-thick.yml.
func Committed() ([]byte, error) { return files.ReadFile(BundleFile) }

// Objects returns the objects of the resource files with kustomization's
// image overrides applied: what `kubectl apply -k deployments/` creates.
func Objects() ([]*unstructured.Unstructured, error) {
	k, err := ReadKustomization()
	if err != nil {
		return nil, err
	}
	res, err := Resources()
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, f := range res {
		objs, err := Decode(f.Data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		for _, o := range objs {
			if err := OverrideImages(o, k.Images); err != nil {
				return nil, fmt.Errorf("%s: %w", f.Name, err)
			}
		}
		out = append(out, objs...)
	}
	return out, nil
}

// UpstreamObjects returns the objects of UpstreamFile with kustomization's
// image overrides applied: upstream's manifest as the lab deploys it.
func UpstreamObjects() ([]*unstructured.Unstructured, error) {
	k, err := ReadKustomization()
	if err != nil {
		return nil, err
	}
	data, err := files.ReadFile(UpstreamFile)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", UpstreamFile, err)
	}
	objs, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", UpstreamFile, err)
	}
	for _, o := range objs {
		if err := OverrideImages(o, k.Images); err != nil {
			return nil, fmt.Errorf("%s: %w", UpstreamFile, err)
		}
	}
	return objs, nil
}

// Decode splits a multi-document YAML stream into objects, skipping
// documents that hold only comments.
func Decode(data []byte) ([]*unstructured.Unstructured, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []*unstructured.Unstructured
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if s := strings.TrimSpace(string(js)); s == "null" || s == "{}" {
			continue
		}
		var u unstructured.Unstructured
		if err := u.UnmarshalJSON(js); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		out = append(out, &u)
	}
}

// OverrideImages rewrites the images of a workload's containers and init
// containers the way kustomize's images transformer does for these fields.
func OverrideImages(obj *unstructured.Unstructured, overrides []ImageOverride) error {
	if len(overrides) == 0 {
		return nil
	}
	for _, field := range []string{"containers", "initContainers"} {
		path := []string{"spec", "template", "spec", field}
		list, found, err := unstructured.NestedSlice(obj.Object, path...)
		if err != nil {
			return fmt.Errorf("%s %s: %w", obj.GetKind(), strings.Join(path, "."), err)
		}
		if !found {
			continue
		}
		for _, c := range list {
			cm, ok := c.(map[string]any)
			if !ok {
				continue
			}
			img, _ := cm["image"].(string)
			name, _ := splitImage(img)
			for _, o := range overrides {
				if o.Name == name {
					cm["image"] = o.Ref(img)
					break
				}
			}
		}
		if err := unstructured.SetNestedSlice(obj.Object, list, path...); err != nil {
			return fmt.Errorf("%s %s: %w", obj.GetKind(), strings.Join(path, "."), err)
		}
	}
	return nil
}

// splitImage splits "registry:5000/name:tag" into name and tag; a port in
// the registry part is not a tag. Digests are left in the name.
func splitImage(ref string) (name, tag string) {
	if strings.Contains(ref, "@") {
		return ref, ""
	}
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ref, ""
	}
	return ref[:i], ref[i+1:]
}
