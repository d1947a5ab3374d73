// Package bench measures two real focal-point nodes on one machine against
// the floors under them, in the same run, so that the ratio of the two means
// something on a noisy machine. It is what `focalpoint bench` does.
//
// A run writes a dev PKI and two node configs into a temporary directory and
// then:
//
//  1. Measures the floors with the nodes' own identities and keys: gRPC unary
//     echo over mTLS of a payload-sized message at the run's concurrency on
//     one connection (E per second), Ed25519 signatures (S) and verifications
//     (V) per second on one goroutine, and ledger appends per second from the
//     run's concurrency of writers, fsync on.
//  2. Starts the two nodes, each a `focalpoint serve` process (or, for
//     profiling, both inside the bench's process), and times each from
//     process start to its local API answering.
//  3. Drives submitters of alerts padded to the payload size through the
//     sending node's local API for the run's duration, closed loop or at an
//     offered rate: one SubmitMessage call per message that also waits for
//     its receipt (await_receipt), and AwaitReceipt only for a message whose
//     receipt did not come within that wait (counted, so it shows). It
//     measures accepted and receipted messages per second and latency
//     percentiles from submission to the receipt being in the sender's
//     ledger, and to acceptance as the time the message's SENT entry
//     records.
//  4. Optionally stops the receiving node, queues a backlog, starts it again
//     and times the drain while new submissions keep arriving.
//
// It reports the modeled ceiling M = 1 / (2/E + 2/(n·S) + 2/(n·V)) for n
// cores beside the achieved rate, each node's peak memory and CPU time per
// message, and its ledger's group-commit figures from its /metrics.
//
// Nothing here is used by a node; the package is a measuring tool and reads
// Linux's /proc for memory and CPU time.
package bench
