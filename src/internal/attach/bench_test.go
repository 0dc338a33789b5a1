package attach

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkAddDel measures the daemon's own overhead per ADD+DEL round
// trip (cache write and read, libcni result cache, runtime conf, status):
// the delegates are a no-op fake exec.
func BenchmarkAddDel(b *testing.B) {
	e := newEnv(b, "1.0.0", clusterNet, net1)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := fmt.Sprintf("c%d", i)
		if _, err := e.a.Add(ctx, e.req("ADD", id)); err != nil {
			b.Fatal(err)
		}
		if err := e.a.Del(ctx, e.req("DEL", id)); err != nil {
			b.Fatal(err)
		}
		e.exec.reset()
	}
}
