// Command validate checks the Kubernetes manifests of a focalpoint node
// offline, as .ci/deploy-checks runs it on the output of `kubectl kustomize`:
//
//	kubectl kustomize deploy/kubernetes | go run . -external NAMES
//
// Schema checkers such as kubeconform fetch their JSON schemas from the
// internet, which CI cannot reach; the Go types of k8s.io/api are the same
// schema, so every document is decoded strictly into its type (an unknown or
// misspelt field, a wrong type or a bad quantity is an error, and field
// names are case-sensitive, as in the API server). Then it checks
// what the set promises: no namespace, one replica, the hardened security
// context, probes, the SPIFFE CSI volume, and that every name it refers to is
// defined in the set or is one of the -external objects an operator creates.
//
// With -config-out FILE it also writes the node config (node.yaml of the
// focalpoint-config ConfigMap) to FILE, for `focalpoint serve --check-config`.
//
// It is a module of its own so that the project's module does not depend on
// k8s.io/api.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

func main() {
	external := flag.String("external", "", "comma-separated names of Secrets and ConfigMaps created outside the set")
	configOut := flag.String("config-out", "", "write node.yaml of the focalpoint-config ConfigMap here")
	flag.Parse()
	if err := run(os.Stdin, strings.Split(*external, ","), *configOut, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "validate:", err)
		os.Exit(1)
	}
}

// set is the decoded manifests.
type set struct {
	statefulSets    []*appsv1.StatefulSet
	services        []*corev1.Service
	configMaps      []*corev1.ConfigMap
	serviceAccounts []*corev1.ServiceAccount
	networkPolicies []*networkingv1.NetworkPolicy
}

func run(in io.Reader, external []string, configOut string, out io.Writer) error {
	docs, err := split(in)
	if err != nil {
		return err
	}
	var s set
	var errs []error
	for i, doc := range docs {
		what, err := s.decode(doc)
		if err != nil {
			errs = append(errs, fmt.Errorf("document %d (%s): %w", i+1, what, err))
			continue
		}
		fmt.Fprintf(out, "  ok  %s (strict decode into k8s.io/api)\n", what)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	problems := s.check(external)
	if len(problems) > 0 {
		return fmt.Errorf("%d problems:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	fmt.Fprintf(out, "  ok  %d documents: one replica, hardened, probed, every reference defined\n", len(docs))
	if configOut != "" {
		cm := s.configMap("focalpoint-config")
		if cm == nil || cm.Data["node.yaml"] == "" {
			return errors.New("no ConfigMap focalpoint-config with node.yaml")
		}
		if err := os.WriteFile(configOut, []byte(cm.Data["node.yaml"]), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// split cuts a YAML stream into its documents, leaving out empty ones.
func split(in io.Reader) ([][]byte, error) {
	var docs [][]byte
	var cur bytes.Buffer
	flush := func() {
		if len(bytes.TrimSpace(stripComments(cur.Bytes()))) > 0 {
			docs = append(docs, bytes.Clone(cur.Bytes()))
		}
		cur.Reset()
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimRight(line, " ") == "---" {
			flush()
			continue
		}
		cur.WriteString(line + "\n")
	}
	flush()
	if len(docs) == 0 {
		return nil, errors.New("no documents on standard input")
	}
	return docs, sc.Err()
}

func stripComments(b []byte) []byte {
	var out []byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' {
			out = append(out, l...)
			out = append(out, '\n')
		}
	}
	return out
}

func (s *set) decode(doc []byte) (string, error) {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return "?", fmt.Errorf("not YAML: %w", err)
	}
	what := fmt.Sprintf("%s %s %s", head.APIVersion, head.Kind, head.Metadata.Name)
	switch {
	case head.APIVersion == "" || head.Kind == "":
		return what, errors.New("apiVersion and kind must be set")
	case head.Metadata.Name == "":
		return what, errors.New("metadata.name must be set")
	case head.Metadata.Namespace != "":
		return what, errors.New("metadata.namespace is set: the set must stay namespace-agnostic")
	}
	if msgs := validation.IsDNS1123Subdomain(head.Metadata.Name); len(msgs) > 0 {
		return what, fmt.Errorf("metadata.name: %s", strings.Join(msgs, "; "))
	}
	var obj any
	switch head.APIVersion + " " + head.Kind {
	case "apps/v1 StatefulSet":
		o := &appsv1.StatefulSet{}
		s.statefulSets, obj = append(s.statefulSets, o), o
	case "v1 Service":
		o := &corev1.Service{}
		s.services, obj = append(s.services, o), o
	case "v1 ConfigMap":
		o := &corev1.ConfigMap{}
		s.configMaps, obj = append(s.configMaps, o), o
	case "v1 ServiceAccount":
		o := &corev1.ServiceAccount{}
		s.serviceAccounts, obj = append(s.serviceAccounts, o), o
	case "networking.k8s.io/v1 NetworkPolicy":
		o := &networkingv1.NetworkPolicy{}
		s.networkPolicies, obj = append(s.networkPolicies, o), o
	default:
		return what, fmt.Errorf("unexpected kind: this checker knows StatefulSet, Service, ConfigMap, ServiceAccount and NetworkPolicy; teach it the new one")
	}
	// As the API server decodes: field names are case-sensitive (Go's
	// encoding/json would take readOnlyRootFileSystem for
	// readOnlyRootFilesystem), unknown and duplicate fields are errors.
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return what, err
	}
	strict, err := sigsjson.UnmarshalStrict(j, obj, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		return what, err
	}
	if len(strict) > 0 {
		return what, errors.Join(strict...)
	}
	return what, nil
}

func (s *set) configMap(prefix string) *corev1.ConfigMap {
	for _, cm := range s.configMaps {
		if cm.Name == prefix || strings.HasPrefix(cm.Name, prefix+"-") {
			return cm
		}
	}
	return nil
}

func (s *set) check(external []string) []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if len(s.statefulSets) != 1 {
		add("want exactly one StatefulSet, have %d", len(s.statefulSets))
		return p
	}
	sts := s.statefulSets[0]
	pod := &sts.Spec.Template.Spec
	podLabels := labels.Set(sts.Spec.Template.Labels)

	if sts.Spec.Replicas == nil || *sts.Spec.Replicas != 1 {
		add("StatefulSet %s: replicas must be 1 (a node is the single writer of its ledger)", sts.Name)
	}
	if sel, err := metav1.LabelSelectorAsSelector(sts.Spec.Selector); err != nil || sel.Empty() || !sel.Matches(podLabels) {
		add("StatefulSet %s: selector does not match the pod template's labels (%v)", sts.Name, err)
	}
	if !slices.ContainsFunc(s.services, func(v *corev1.Service) bool { return v.Name == sts.Spec.ServiceName }) {
		add("StatefulSet %s: serviceName %q is no Service of the set", sts.Name, sts.Spec.ServiceName)
	}
	if pod.ServiceAccountName != "" && !slices.ContainsFunc(s.serviceAccounts, func(v *corev1.ServiceAccount) bool { return v.Name == pod.ServiceAccountName }) {
		add("pod: serviceAccountName %q is no ServiceAccount of the set", pod.ServiceAccountName)
	}
	if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		add("pod: securityContext must set runAsNonRoot and seccompProfile RuntimeDefault")
	}

	// Volumes: each mount names a volume or a claim template; references to
	// ConfigMaps and Secrets are in the set or external.
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	for _, c := range sts.Spec.VolumeClaimTemplates {
		volumes[c.Name] = corev1.Volume{Name: c.Name}
	}
	known := func(name string) bool {
		return slices.Contains(external, name) || slices.ContainsFunc(s.configMaps, func(cm *corev1.ConfigMap) bool { return cm.Name == name })
	}
	for _, v := range pod.Volumes {
		if pv := v.Projected; pv != nil {
			for _, src := range pv.Sources {
				if src.ConfigMap != nil && !known(src.ConfigMap.Name) {
					add("volume %s: ConfigMap %q is neither in the set nor -external", v.Name, src.ConfigMap.Name)
				}
				if src.Secret != nil && !known(src.Secret.Name) {
					add("volume %s: Secret %q is neither in the set nor -external", v.Name, src.Secret.Name)
				}
			}
		}
		if v.CSI != nil && (v.CSI.Driver != "csi.spiffe.io" || v.CSI.ReadOnly == nil || !*v.CSI.ReadOnly) {
			add("volume %s: a CSI volume must be the read-only SPIFFE CSI driver csi.spiffe.io", v.Name)
		}
	}
	spiffeMounted := false

	ports := map[string]int32{}
	all := append(slices.Clone(pod.InitContainers), pod.Containers...)
	for _, c := range all {
		sc := c.SecurityContext
		switch {
		case sc == nil:
			add("container %s: no securityContext", c.Name)
		case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			add("container %s: readOnlyRootFilesystem must be true", c.Name)
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			add("container %s: allowPrivilegeEscalation must be false", c.Name)
		case sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0:
			add("container %s: capabilities must drop ALL and add none", c.Name)
		case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
			add("container %s: runAsNonRoot must be true", c.Name)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
			add("container %s: resources must request cpu and memory and limit memory", c.Name)
		}
		for _, m := range c.VolumeMounts {
			v, ok := volumes[m.Name]
			if !ok {
				add("container %s: volumeMount %q names no volume", c.Name, m.Name)
			}
			if v.CSI != nil {
				if m.MountPath != "/run/spire/sockets" || !m.ReadOnly {
					add("container %s: the SPIFFE CSI volume must be mounted read-only at /run/spire/sockets", c.Name)
				}
				spiffeMounted = true
			}
		}
		for _, cp := range c.Ports {
			ports[cp.Name] = cp.ContainerPort
		}
	}
	if !spiffeMounted {
		add("pod: the SPIFFE CSI volume (Workload API socket) is not mounted")
	}
	for _, c := range pod.Containers {
		for name, pr := range map[string]*corev1.Probe{"startupProbe": c.StartupProbe, "readinessProbe": c.ReadinessProbe, "livenessProbe": c.LivenessProbe} {
			switch {
			case pr == nil:
				add("container %s: no %s", c.Name, name)
			case pr.GRPC != nil && !slices.Contains(mapsValues(ports), pr.GRPC.Port):
				add("container %s: %s probes gRPC port %d, which the container does not serve", c.Name, name, pr.GRPC.Port)
			case pr.Exec == nil && pr.GRPC == nil:
				add("container %s: %s must be an exec or gRPC probe (the peer port is mTLS: a TCP or HTTP probe would count as a failed handshake)", c.Name, name)
			}
		}
	}

	targetPort := func(where string, tp intstr.IntOrString) {
		if tp.Type == intstr.String {
			if _, ok := ports[tp.StrVal]; !ok {
				add("%s: port %q is not a container port", where, tp.StrVal)
			}
		} else if !slices.Contains(mapsValues(ports), tp.IntVal) {
			add("%s: port %d is not a container port", where, tp.IntVal)
		}
	}
	for _, svc := range s.services {
		if sel := labels.SelectorFromSet(svc.Spec.Selector); len(svc.Spec.Selector) == 0 || !sel.Matches(podLabels) {
			add("Service %s: selector does not select the node's pod", svc.Name)
		}
		for _, sp := range svc.Spec.Ports {
			targetPort(fmt.Sprintf("Service %s port %s", svc.Name, sp.Name), sp.TargetPort)
		}
	}
	if len(s.networkPolicies) == 0 {
		add("no NetworkPolicy")
	}
	for _, np := range s.networkPolicies {
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil || sel.Empty() || !sel.Matches(podLabels) {
			add("NetworkPolicy %s: podSelector does not select the node's pod", np.Name)
		}
		for i, rule := range np.Spec.Ingress {
			if len(rule.Ports) == 0 {
				add("NetworkPolicy %s: ingress rule %d admits every port", np.Name, i)
			}
			for _, port := range rule.Ports {
				if port.Port != nil {
					targetPort(fmt.Sprintf("NetworkPolicy %s ingress rule %d", np.Name, i), *port.Port)
				}
			}
		}
	}
	return p
}

func mapsValues(m map[string]int32) []int32 {
	var v []int32
	for _, x := range m {
		v = append(v, x)
	}
	return v
}
