package bench

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// APIRequestsMetric is the daemon's counter of requests to the API server,
// labelled verb and resource (a client-go round-tripper counts them).
const APIRequestsMetric = "multus_apiserver_requests_total"

// apiCounts is the counter's value by "verb resource".
type apiCounts map[string]float64

func (a apiCounts) minus(b apiCounts) apiCounts {
	out := apiCounts{}
	for k, v := range a {
		if d := v - b[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

func (a apiCounts) add(b apiCounts) {
	for k, v := range b {
		a[k] += v
	}
}

// APIRequests is API requests per operation, read from the daemon's counter.
type APIRequests struct {
	Ops   int     `json:"ops"`
	PerOp float64 `json:"per_op"`
	// ByVerbResource is per operation too, keyed "verb resource".
	ByVerbResource map[string]float64 `json:"by_verb_resource"`
}

func perOp(total apiCounts, ops int) *APIRequests {
	if ops == 0 {
		return nil
	}
	out := &APIRequests{Ops: ops, ByVerbResource: map[string]float64{}}
	for k, v := range total {
		out.ByVerbResource[k] = v / float64(ops)
		out.PerOp += v / float64(ops)
	}
	return out
}

// parseAPIRequests reads APIRequestsMetric from a Prometheus text
// exposition. found is false when the exposition has no such sample (a
// daemon without the counter, or one that has not sent a request yet).
func parseAPIRequests(text []byte) (counts apiCounts, found bool, err error) {
	counts = apiCounts{}
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			if strings.HasPrefix(line, "# TYPE "+APIRequestsMetric+" ") {
				found = true
			}
			continue
		}
		rest, ok := strings.CutPrefix(line, APIRequestsMetric)
		if !ok || (rest != "" && rest[0] != '{' && rest[0] != ' ') {
			continue // another metric, maybe one whose name starts like ours
		}
		labels := map[string]string{}
		if strings.HasPrefix(rest, "{") {
			if labels, rest, err = parseLabels(rest[1:]); err != nil {
				return nil, false, fmt.Errorf("%s line %d: %w", APIRequestsMetric, n, err)
			}
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return nil, false, fmt.Errorf("%s line %d: no value", APIRequestsMetric, n)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, false, fmt.Errorf("%s line %d: value %q: %w", APIRequestsMetric, n, fields[0], err)
		}
		counts[labels["verb"]+" "+labels["resource"]] += v
		found = true
	}
	if err := sc.Err(); err != nil {
		return nil, false, err
	}
	return counts, found, nil
}

// parseLabels reads `name="value",...}` and returns the rest of the line.
func parseLabels(s string) (map[string]string, string, error) {
	out := map[string]string{}
	for {
		s = strings.TrimLeft(s, " ,")
		if strings.HasPrefix(s, "}") {
			return out, s[1:], nil
		}
		name, after, ok := strings.Cut(s, "=")
		if !ok || !strings.HasPrefix(after, `"`) {
			return nil, "", fmt.Errorf("malformed labels near %q", s)
		}
		var val strings.Builder
		i := 1
		for ; i < len(after) && after[i] != '"'; i++ {
			if after[i] == '\\' && i+1 < len(after) {
				i++
				switch after[i] {
				case 'n':
					val.WriteByte('\n')
				default:
					val.WriteByte(after[i])
				}
				continue
			}
			val.WriteByte(after[i])
		}
		if i >= len(after) {
			return nil, "", fmt.Errorf("unterminated label value near %q", s)
		}
		out[strings.TrimSpace(name)] = val.String()
		s = after[i+1:]
	}
}

// scrapeAPIRequests reads the counter from a daemon's metrics listener on
// loopback.
func scrapeAPIRequests(ctx context.Context, port int) (apiCounts, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/metrics", port), nil)
	if err != nil {
		return nil, false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, false, fmt.Errorf("scrape metrics: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, false, fmt.Errorf("scrape metrics: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, false, fmt.Errorf("scrape metrics: HTTP %d", resp.StatusCode)
	}
	return parseAPIRequests(body)
}

// breakdown lists the requests per operation by verb and resource, largest
// first: "2 create events, 1 patch pods".
func (a APIRequests) breakdown() string {
	keys := make([]string, 0, len(a.ByVerbResource))
	for k := range a.ByVerbResource {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y string) int {
		if c := cmp.Compare(a.ByVerbResource[y], a.ByVerbResource[x]); c != 0 {
			return c
		}
		return strings.Compare(x, y)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %s", val(a.ByVerbResource[k]), k)
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
