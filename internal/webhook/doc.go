// Package webhook holds DiLO's admission webhooks: the defaulter and validator of
// LoadTest and the validator of SimpleDeployment, so that `kubectl apply` answers at
// once, naming every field that is wrong.
//
// The defaulter fills in method (GET, upper-cased), or each request's method and
// weight (1) for a mix, and repeat (100) unless there are stages. The API server
// calls it only when there is something to do (the matchCondition on its marker in
// loadtest.go): every admission webhook call adds a round trip to each create. The
// defaults that need no code (concurrency, timeoutSeconds, updatePolicy) are in the
// CRD's schema; the defaulter sets them too, so that it alone gives a complete spec.
//
// Each admission rule is one small named function in rules.go, table-tested in
// rules_test.go; the types in loadtest.go and simpledeployment.go are the glue that
// feeds them the object, the Service it targets (read from the manager's cache) and
// the manager's flags. Errors are field.ErrorLists wrapped in apierrors.NewInvalid, so
// kubectl prints `The LoadTest "x" is invalid: spec.test.serviceName: Not found: ...`.
//
// LoadTest rules, on create and on every update that changes the spec:
//   - spec.replicas is from 1 to the manager's --max-replicas;
//   - spec.test.method is a method DiLO sends (the defaulter upper-cases it first);
//   - spec.test.path is an origin-form request target that cannot break the HTTP
//     request line: printable ASCII of the characters RFC 3986 allows, well-formed
//     %XX escapes, no "//" start, no fragment. The CRD schema says much the same; the
//     webhook checks it again so that a schema change can never open header injection;
//   - spec.test.serviceName names a Service of the LoadTest's namespace that is not of
//     type ExternalName (DiLO never relays load to hosts outside the cluster), and
//     spec.test.port one of its ports; a Service without ready endpoints is accepted
//     with a warning, since its pods may still be starting;
//   - thresholds: maxErrorRatio a decimal from 0 to 1, latencies positive; abort (the
//     limits checked while the run executes) only with a limit to check, and accepted
//     with a warning over a window shorter than 10 seconds, which holds only one or
//     two of the manager's reads of the agents (its bounds are the CRD schema's);
//   - exactly one of path and requests; each request of a mix has a DNS-label name of
//     its own, a method, a path as spec.test.path and a weight from 1 to 1000;
//   - headers (the test's and each request's): names RFC 9110 tokens, set once per
//     list whatever their case, none of the agent's framing and connection headers
//     (internal/httpfield); inline values that cannot end the header; exactly one of
//     value and valueFrom. A body is inline text or a key, and one on GET or HEAD is
//     accepted with a warning;
//   - tls: exactly one of ca and insecureSkipVerify (accepted with a warning); HTTP/2
//     only with tls;
//   - load: rate and totalRate exclude each other; totals, split across the replicas,
//     give each pod at least one and none more than one pod may send; stages all of
//     one kind, without rate, totalRate, durationSeconds and repeat, lasting 1 to
//     86400 seconds; and the manager's ceilings (policy.CheckLoad) on connections,
//     rate and deadline, however the spec says them;
//   - every Secret and ConfigMap a test reads (headers, bodies, the TLS CA) is one its
//     author may get, as a SubjectAccessReview tells: DiLO must not read for them what
//     they could not read themselves. One they may get that is missing, or a ConfigMap
//     without the key, is accepted with a warning; Secrets are read as metadata only,
//     so that no Secret value ever reaches the webhook.
//
// Edits while a run is going (status.state pending or executing) follow the
// spec.updatePolicy of the stored object: Restart lets the edit through and the
// controller starts a new run; Reject denies it, naming the changed fields and how to
// restart, except an edit of spec.updatePolicy alone, so the user is never stuck: set
// it to Restart, then edit (or delete and re-create the LoadTest). Edits of a finished
// or failed LoadTest are always allowed and start a new run. Updates that leave what a
// run runs unchanged (api/v1.RunSpec: labels, annotations, finalizers,
// spec.updatePolicy, the TTL fields, spec.historyLimit), and updates of an object
// being deleted, are never denied, even if the Service has gone since: a user can
// always switch policy or stop a run, a controller remove its finalizer. The one
// exception is the example.org/stop annotation (any new value stops the current run),
// refused when a new value is over 256 bytes: DiLO copies it into the status.
//
// SimpleDeployment: spec.sleepytime is a whole number of seconds from 0 to
// api/v1.MaxSleepytime, given as a number or a string of digits.
package webhook
