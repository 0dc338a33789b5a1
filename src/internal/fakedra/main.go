package fakedra

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/dynamic-resource-allocation/kubeletplugin"
)

// Options are the command's settings.
type Options struct {
	Config
	// PluginDir holds the DRA gRPC socket (the kubelet dials it) and,
	// under claims/, the claim records. Default
	// /var/lib/kubelet/plugins/<driver>.
	PluginDir string
	// RegistryDir is the kubelet's plugin registration directory.
	RegistryDir string
}

// Main is the mt-dra-plugin command: it serves the kubelet and publishes
// the node's devices until ctx ends. It returns the exit code: 2 for bad
// flags, 1 for any other failure.
func Main(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	fs := flag.NewFlagSet("mt-dra-plugin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o Options
	fs.StringVar(&o.Driver, "driver", DefaultDriver, "DRA driver name")
	fs.StringVar(&o.Node, "node-name", getenv("NODE_NAME"), "this node (default $NODE_NAME)")
	fs.StringVar(&o.ResourceName, "resource-name", DefaultResourceName, "k8s.cni.cncf.io/resourceName of every device")
	fs.IntVar(&o.Devices, "devices", DefaultDevices, fmt.Sprintf("number of fake devices (1..%d)", MaxDevices))
	fs.StringVar(&o.DevInfoDir, "devinfo-dir", DefaultDevInfoDir, "device-info directory shared with CNI (files go to <dir>/dp)")
	fs.StringVar(&o.PluginDir, "plugin-dir", "", "DRA socket and claim records (default /var/lib/kubelet/plugins/<driver>)")
	fs.StringVar(&o.RegistryDir, "registry-dir", kubeletplugin.KubeletRegistryDir, "kubelet plugin registration directory")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig path (default: in-cluster service account)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mt-dra-plugin: unexpected arguments %q\n", fs.Args())
		return 2
	}
	o.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	client, err := newClient(*kubeconfig)
	if err == nil {
		err = Serve(ctx, o, client)
	}
	if err != nil {
		fmt.Fprintln(stderr, "mt-dra-plugin:", err)
		return 1
	}
	return 0
}

func newClient(kubeconfig string) (kubernetes.Interface, error) {
	var cfg *rest.Config
	var err error
	if kubeconfig == "" {
		cfg, err = rest.InClusterConfig()
	} else {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	cfg.UserAgent = "multus-thick-dra-plugin"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return client, nil
}

// Serve registers the driver with the kubelet, publishes its devices and
// serves preparation calls until ctx ends (nil then), or until the helper
// reports an error it cannot recover from.
func Serve(ctx context.Context, o Options, client kubernetes.Interface) error {
	if o.PluginDir == "" {
		o.PluginDir = filepath.Join(kubeletplugin.KubeletPluginsDir, o.Driver)
	}
	if o.RegistryDir == "" {
		o.RegistryDir = kubeletplugin.KubeletRegistryDir
	}
	if o.StateDir == "" {
		o.StateDir = filepath.Join(o.PluginDir, "claims")
	}
	drv, err := New(o.Config)
	if err != nil {
		return err
	}
	// The registry is the kubelet's: without it the kubelet has no plugin
	// watcher to find us. The plugin directory is ours.
	if fi, err := os.Stat(o.RegistryDir); err != nil || !fi.IsDir() {
		return fmt.Errorf("kubelet plugin registry %s is not a directory (is this a kubelet's node, is it mounted?): %v", o.RegistryDir, err)
	}
	if err := os.MkdirAll(o.PluginDir, 0o750); err != nil {
		return fmt.Errorf("plugin directory: %w", err)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	drv.fatal = cancel
	helper, err := kubeletplugin.Start(ctx, drv,
		kubeletplugin.DriverName(o.Driver),
		kubeletplugin.NodeName(o.Node),
		kubeletplugin.KubeClient(client),
		kubeletplugin.PluginDataDirectoryPath(o.PluginDir),
		kubeletplugin.RegistrarDirectoryPath(o.RegistryDir),
		kubeletplugin.HealthService(false),
	)
	if err != nil {
		return fmt.Errorf("start kubelet plugin %s: %w", o.Driver, err)
	}
	defer helper.Stop()
	if err := helper.PublishResources(ctx, drv.Resources()); err != nil {
		return fmt.Errorf("publish devices: %w", err)
	}
	drv.cfg.Logger.Info("serving fake devices", "driver", o.Driver, "node", o.Node, "resourceName", o.ResourceName,
		"devices", len(drv.devices), "pluginDir", o.PluginDir, "devinfo", drv.dpDir())
	<-ctx.Done()
	if cause := context.Cause(ctx); !errors.Is(cause, context.Canceled) && !errors.Is(cause, context.DeadlineExceeded) {
		return cause
	}
	return nil
}
