package certapprover

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Main is the cert-approver command: it approves per-node CSRs until ctx
// ends (the command cancels it on SIGTERM). It returns the exit code: 2
// for bad flags, 1 when the client cannot be built.
func Main(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("cert-approver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig path (default: in-cluster service account)")
	timeout := fs.Duration("api-timeout", 10*time.Second, "deadline of each approval call")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	var cfg *rest.Config
	var err error
	if *kubeconfig == "" {
		cfg, err = rest.InClusterConfig()
	} else {
		cfg, err = clientcmd.BuildConfigFromFlags("", *kubeconfig)
	}
	if err == nil {
		cfg.UserAgent = "multus-thick-cert-approver"
	}
	var client kubernetes.Interface
	if err == nil {
		client, err = kubernetes.NewForConfig(cfg)
	}
	if err != nil {
		fmt.Fprintln(stderr, "cert-approver: kubernetes client:", err)
		return 1
	}
	log.Info("approving per-node client certificates of multus-thick")
	if err := New(client, log, *timeout).Run(ctx); err != nil {
		fmt.Fprintln(stderr, "cert-approver:", err)
		return 1
	}
	return 0
}
