package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// WorkloadAPISocketEnv is the environment variable that names the SPIFFE
// Workload API when the config names neither files nor a socket (the SPIFFE
// standard's variable, which SPIRE's Kubernetes setups inject).
const WorkloadAPISocketEnv = "SPIFFE_ENDPOINT_SOCKET"

// DefaultIdentityReloadInterval is how often identity files are checked for
// changes when identity.reload_interval is not set.
const DefaultIdentityReloadInterval = 5 * time.Second

// validateIdentity checks where the node's transport identity comes from.
//
// The rules, and why:
//   - The SVID comes from files (identity.svid_cert, svid_key and bundle, all
//     three) or from the SPIFFE Workload API (identity.workload_api_socket),
//     never both: a node with two sources of truth for who it is would one
//     day present the wrong one.
//   - With none of these keys, SPIFFE_ENDPOINT_SOCKET names the Workload API,
//     as every SPIFFE library does; with none of them either, the config is
//     invalid.
//   - The counterpart's bundle comes from counterpart.bundle (a file), from
//     counterpart.bundle_endpoint_url (its SPIFFE bundle endpoint), or, with
//     the Workload API, from the federated bundles SPIRE hands out. A file
//     identity has no Workload API, so it needs one of the first two.
//   - The https_spiffe profile (counterpart.bundle_endpoint_spiffe_id) is
//     authenticated with the counterpart's bundle, so it needs a first one:
//     counterpart.bundle or the Workload API's.
func (f *File) validateIdentity(c *Config, p *problems, path func(key, v string) string) {
	in, cp := f.Identity, f.Counterpart
	files := []struct{ key, v string }{
		{"identity.svid_cert", in.SVIDCert},
		{"identity.svid_key", in.SVIDKey},
		{"identity.bundle", in.Bundle},
	}
	var set, unset []string
	for _, k := range files {
		if k.v != "" {
			set = append(set, k.key)
		} else {
			unset = append(unset, k.key)
		}
	}
	fromFiles := in.WorkloadAPISocket == "" && len(set) > 0
	switch {
	case in.WorkloadAPISocket != "" && len(set) > 0:
		p.addf("identity.workload_api_socket and %s are mutually exclusive: the SVID comes from the Workload API or from files, not both",
			strings.Join(set, ", "))
	case in.WorkloadAPISocket != "":
		c.WorkloadAPISocket = workloadAPIAddress(p, "identity.workload_api_socket", in.WorkloadAPISocket)
	case len(set) == len(files):
		c.SVIDCert = path("identity.svid_cert", in.SVIDCert)
		c.SVIDKey = path("identity.svid_key", in.SVIDKey)
		c.Bundle = path("identity.bundle", in.Bundle)
	case len(set) > 0:
		p.addf("%s must be set along with %s (an identity from files needs all three)", strings.Join(unset, ", "), strings.Join(set, ", "))
	default:
		if env := os.Getenv(WorkloadAPISocketEnv); env != "" {
			c.WorkloadAPISocket = workloadAPIAddress(p, WorkloadAPISocketEnv+" (environment)", env)
		} else {
			p.addf("identity: set identity.svid_cert, identity.svid_key and identity.bundle (an SVID from files), or identity.workload_api_socket (from the SPIFFE Workload API; %s in the environment does too)",
				WorkloadAPISocketEnv)
		}
	}
	switch {
	case in.ReloadInterval < 0:
		p.addf("identity.reload_interval must not be negative")
	case in.ReloadInterval == 0:
		c.IdentityReloadInterval = DefaultIdentityReloadInterval
	default:
		c.IdentityReloadInterval = time.Duration(in.ReloadInterval)
	}

	if cp.Bundle != "" {
		c.Counterpart.Bundle = path("counterpart.bundle", cp.Bundle)
	}
	if cp.BundleEndpointURL != "" {
		u, err := url.Parse(cp.BundleEndpointURL)
		switch {
		case err != nil:
			p.addf("counterpart.bundle_endpoint_url: %q is not a URL: %v", cp.BundleEndpointURL, err)
		case u.Scheme != "https" || u.Host == "":
			p.addf("counterpart.bundle_endpoint_url: %q is not an https:// URL", cp.BundleEndpointURL)
		default:
			c.Counterpart.BundleEndpointURL = u.String()
		}
	}
	if cp.BundleEndpointSpiffeID != "" {
		id, err := spiffeid.FromString(cp.BundleEndpointSpiffeID)
		switch {
		case err != nil:
			p.addf("counterpart.bundle_endpoint_spiffe_id: %q is not a SPIFFE ID: %v", cp.BundleEndpointSpiffeID, err)
		case cp.BundleEndpointURL == "":
			p.addf("counterpart.bundle_endpoint_spiffe_id is set but counterpart.bundle_endpoint_url is not")
		case !c.Counterpart.ID.IsZero() && !id.MemberOf(c.Counterpart.ID.TrustDomain()):
			p.addf("counterpart.bundle_endpoint_spiffe_id: %s is not in the counterpart's trust domain %s", id, c.Counterpart.ID.TrustDomain())
		case cp.Bundle == "" && fromFiles:
			p.addf("counterpart.bundle must be set with counterpart.bundle_endpoint_spiffe_id: the bundle endpoint is authenticated with the counterpart's bundle, and an identity from files has no other first one")
		}
		c.Counterpart.BundleEndpointID = id
	}
	if cp.Bundle == "" && cp.BundleEndpointURL == "" && fromFiles {
		p.addf("counterpart.bundle must be set (or counterpart.bundle_endpoint_url): with an identity from files nothing else supplies the counterpart's bundle")
	}
}

// workloadAPIAddress checks a Workload API address the way go-spiffe parses
// it (unix:///absolute/path or tcp://IP:port), so a typo fails at load and
// not at the first connection. (Not go-spiffe's own check: this package must
// not link the Workload API client, whose gRPC the auditor's tools do not
// need.)
func workloadAPIAddress(p *problems, key, v string) string {
	u, err := url.Parse(v)
	if err != nil {
		p.addf("%s: %q is not a URL: %v", key, v, err)
		return ""
	}
	switch u.Scheme {
	case "unix":
		path := u.Path
		if u.Opaque != "" {
			path = u.Opaque
		}
		switch {
		case u.Host != "" || !strings.HasPrefix(path, "/"):
			p.addf("%s: %q must name an absolute socket path, e.g. unix:///run/spire/sockets/agent.sock", key, v)
		case len(path) > maxUnixSocketPathLength:
			p.addf("%s: path %q is longer than %d bytes, the limit for unix sockets", key, path, maxUnixSocketPathLength)
		case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
			p.addf("%s: %q must be unix:///path with nothing else", key, v)
		}
	case "tcp":
		host, port, err := net.SplitHostPort(u.Host)
		switch {
		case err != nil || port == "":
			p.addf("%s: %q must be tcp://IP:port", key, v)
		case net.ParseIP(host) == nil:
			p.addf("%s: %q: the host must be an IP address (the Workload API is not looked up by name)", key, v)
		case u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
			p.addf("%s: %q must be tcp://IP:port with nothing else", key, v)
		}
	default:
		p.addf("%s: %q must be unix:///path/to/agent.sock or tcp://IP:port", key, v)
	}
	return v
}

// IdentitySource says where the node's SVID comes from, for logs and
// check-config.
func (c *Config) IdentitySource() string {
	if c.WorkloadAPISocket != "" {
		return fmt.Sprintf("workload API %s", c.WorkloadAPISocket)
	}
	return fmt.Sprintf("files %s", c.SVIDCert)
}
