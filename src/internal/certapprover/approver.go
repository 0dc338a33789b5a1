package certapprover

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Reasons on the conditions the approver sets.
const (
	ReasonApproved = "MultusThickApproved"
	ReasonDenied   = "MultusThickDenied"
)

// Approver watches the kube-apiserver-client CSRs and decides each
// pending one once.
type Approver struct {
	client  kubernetes.Interface
	log     *slog.Logger
	timeout time.Duration
}

// New returns an Approver; apiTimeout bounds each approval call (0: 10s).
func New(client kubernetes.Interface, log *slog.Logger, apiTimeout time.Duration) *Approver {
	if apiTimeout == 0 {
		apiTimeout = 10 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Approver{client: client, log: log, timeout: apiTimeout}
}

// Run decides CSRs until ctx ends. A failed approval is retried at the
// informer's next resync.
func (a *Approver) Run(ctx context.Context) error {
	selector := fields.OneTermEqualSelector("spec.signerName", certificatesv1.KubeAPIServerClientSignerName).String()
	factory := informers.NewSharedInformerFactoryWithOptions(a.client, time.Minute,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = selector }))
	inf := factory.Certificates().V1().CertificateSigningRequests().Informer()
	handle := func(obj any) {
		if csr, ok := obj.(*certificatesv1.CertificateSigningRequest); ok {
			a.Handle(ctx, csr)
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: handle, UpdateFunc: func(_, obj any) { handle(obj) },
	}); err != nil {
		return fmt.Errorf("watch CSRs: %w", err)
	}
	factory.Start(ctx.Done())
	<-ctx.Done()
	factory.Shutdown()
	return nil
}

// Handle decides one CSR and records the verdict on it.
func (a *Approver) Handle(ctx context.Context, csr *certificatesv1.CertificateSigningRequest) {
	verdict, reason := Decide(csr)
	if verdict == Ignore {
		return
	}
	cond := certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: ReasonApproved, Message: reason,
	}
	if verdict == Deny {
		cond.Type, cond.Reason = certificatesv1.CertificateDenied, ReasonDenied
	}
	out := csr.DeepCopy()
	out.Status.Conditions = append(out.Status.Conditions, cond)
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	if _, err := a.client.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, csr.Name, out, metav1.UpdateOptions{}); err != nil {
		a.log.Error("record CSR verdict", "csr", csr.Name, "verdict", verdict.String(), "err", err)
		return
	}
	a.log.Info("CSR decided", "csr", csr.Name, "requester", csr.Spec.Username, "verdict", verdict.String(), "reason", reason)
}
