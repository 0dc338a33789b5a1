// Package repro is `make repro-delegate` and `make repro-replay`: put a contributor's CNI
// plugin and NAD on the lab, run pods through it in a fresh namespace with every delegate
// call recorded, and leave the evidence in one folder; then run the recorded calls again on
// the node, without Kubernetes, in a throwaway netns.
//
// The recording needs no daemon switch: the NAD applied in the repro namespace names the
// recorder (mt-repro-<type>, src/cmd/mt-repro-rec) instead of each of its types, and the
// recorder runs the real plugin with the exact stdin and environment the daemon sent.
//
// Evidence folder, _artifacts/repro/<nad>-<time>/:
//
//	summary.txt, summary.json   the terminal summary; the first failing call and its error
//	repro.json                  what ran where (replay reads it)
//	nad.yaml, nad-applied.json  the NAD as given and the config applied (types wrapped)
//	plugin/<type>               the PLUGIN binary, for replay
//	calls/<start>-<pid>-<cmd>/  one recorded call: meta.json stdin env stdout stderr exit.json
//	pods/<pod>/                 pod.yaml (with status), events.txt, network-status.json
//	daemon.log, daemon-full.log the daemon's lines for the pods' container IDs; its whole log
//	kubelet.log                 the kubelet's lines for the sandboxes
//	node-before.json, node-after.json, leftovers.txt
package repro
