package bench

import (
	"math"
	"testing"
)

// exposition is what a daemon with the counter serves (the shape
// client_golang writes), with neighbours that must not be counted.
const exposition = `# HELP multus_apiserver_requests_total Requests to the API server, by verb and resource.
# TYPE multus_apiserver_requests_total counter
multus_apiserver_requests_total{resource="pods",verb="get"} 12
multus_apiserver_requests_total{resource="pods",verb="patch"} 10
multus_apiserver_requests_total{verb="create", resource="events"} 20 1733112000000
multus_apiserver_requests_total_created{resource="pods",verb="get"} 1.7e+09
multus_apiserver_requests_totals 99
# TYPE multus_server_request_total counter
multus_server_request_total{command="ADD",status="ok"} 10
`

func TestParseAPIRequests(t *testing.T) {
	tests := []struct {
		name      string
		text      string
		want      apiCounts
		wantFound bool
		wantErr   bool
	}{
		{name: "counter present", text: exposition, wantFound: true,
			want: apiCounts{"get pods": 12, "patch pods": 10, "create events": 20}},
		{name: "family declared, no sample yet", text: "# TYPE multus_apiserver_requests_total counter\n", wantFound: true, want: apiCounts{}},
		{name: "a daemon without the counter", text: "# TYPE go_goroutines gauge\ngo_goroutines 12\n", want: apiCounts{}},
		{name: "escaped label value", text: `multus_apiserver_requests_total{resource="a\"b",verb="get"} 1` + "\n", wantFound: true, want: apiCounts{`get a"b`: 1}},
		{name: "bad value", text: `multus_apiserver_requests_total{verb="get",resource="pods"} many` + "\n", wantErr: true},
		{name: "unterminated labels", text: `multus_apiserver_requests_total{verb="get` + "\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found, err := parseAPIRequests([]byte(tt.text))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if found != tt.wantFound || len(got) != len(tt.want) {
				t.Fatalf("got %v (found %v), want %v (found %v)", got, found, tt.want, tt.wantFound)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
		})
	}
}

func TestAPIRequestsPerOp(t *testing.T) {
	before := apiCounts{"get pods": 2, "create events": 1}
	after := apiCounts{"get pods": 12, "create events": 21, "patch pods": 10}
	total := apiCounts{}
	total.add(after.minus(before))
	got := perOp(total, 10)
	if math.Abs(got.PerOp-4) > 1e-9 || got.ByVerbResource["create events"] != 2 || got.ByVerbResource["patch pods"] != 1 {
		t.Fatalf("per op = %+v, want 4 in all (1 get, 1 patch, 2 create events)", got)
	}
	if perOp(total, 0) != nil {
		t.Fatal("no operations must give no figure")
	}
}
