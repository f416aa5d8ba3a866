// Package kubernetes holds no code: its tests check the manifests beside
// them and the Dockerfile at the repository's root.
package kubernetes

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/cutover/cutover/configs"
	"github.com/cutover/cutover/gateway"
)

// These tests hold the deployment files (Dockerfile, .dockerignore and
// deploy/kubernetes) to the invariants that make several replicas behind one
// Redis work: probes on the right paths and port, a grace period that covers
// the whole shutdown, selectors that select the gateway's pods, and a config
// that cutover accepts. checkDeploy finds the problems; TestDeployFiles wants
// none, and TestDeployChecksCatchMistakes breaks the files one way at a time
// and wants each break found, so that no check is one that cannot fail.

// deployDir is where the manifests are from the repository's root, as
// the problems name them; repoRoot is that root from this directory.
const (
	deployDir = "deploy/kubernetes"
	repoRoot  = "../.."
)

// shutdownAfterDrain is what serve spends on SIGTERM after the drain of
// in-flight requests (shutdown_timeout), in Gateway.Close: queued shadow
// comparisons, queued trace spans, rollout notifications, queued records.
// 5s + 2s + 5s + 10s today.
const shutdownAfterDrain = gateway.ShadowDrainTimeout + gateway.TraceFlushTimeout + gateway.RolloutCloseTimeout + gateway.RecordFlushTimeout

// Secrets the config's *_env keys name; the test sets them as the pods do.
var deployEnv = map[string]string{
	"REDIS_PASSWORD":      "test-redis-password",
	"CUTOVER_ADMIN_TOKEN": "test-admin-token",
}

func TestDeployFiles(t *testing.T) {
	setDeployEnv(t)
	for _, p := range checkDeploy(readDeployFiles(t)) {
		t.Error(p)
	}
}

func TestDeployChecksCatchMistakes(t *testing.T) {
	setDeployEnv(t)
	pristine := readDeployFiles(t)
	if ps := checkDeploy(pristine); len(ps) > 0 {
		t.Fatalf("the files have problems before any mistake is made:\n%s", strings.Join(ps, "\n"))
	}
	dep, cm, svc, pdb, kust := deployDir+"/deployment.yaml", deployDir+"/configmap.yaml",
		deployDir+"/service.yaml", deployDir+"/pdb.yaml", deployDir+"/kustomization.yaml"
	mistakes := []struct {
		name, file, old, new string
		want                 string // a fragment of the problem expected
	}{
		{"two replicas", dep, "replicas: 3", "replicas: 2", "replicas"},
		{"readiness on /healthz", dep, "path: /readyz", "path: /healthz", "readinessProbe path"},
		{"readiness on the proxy port", dep, "path: /readyz\n              port: admin", "path: /readyz\n              port: http", "readinessProbe port"},
		{"slow readiness", dep, "periodSeconds: 2 ", "periodSeconds: 10 ", "readinessProbe period"},
		{"no liveness", dep, "livenessProbe:", "livenessProbx:", "livenessProbe"},
		{"liveness on /readyz", dep, "livenessProbe:\n            httpGet:\n              path: /healthz", "livenessProbe:\n            httpGet:\n              path: /readyz", "livenessProbe path"},
		{"no startup probe", dep, "startupProbe:", "startupProbx:", "startupProbe"},
		{"no requests", dep, "requests:\n              cpu: 500m", "requestz:\n              cpu: 500m", "requests"},
		{"no memory limit", dep, "limits:\n              memory: 1Gi", "limits: {}\n              #", "memory limit"},
		{"GOMEMLIMIT above the limit", dep, `value: "900MiB"`, `value: "2GiB"`, "GOMEMLIMIT"},
		{"short grace period", dep, "terminationGracePeriodSeconds: 40", "terminationGracePeriodSeconds: 30", "terminationGracePeriodSeconds"},
		{"longer drain, same grace", cm, "shutdown_timeout: 10s", "shutdown_timeout: 20s", "terminationGracePeriodSeconds"},
		{"no preStop sleep", dep, "sleep:\n                seconds: 5", "sleeq:\n                seconds: 5", "preStop"},
		{"rolling update may go below 3", dep, "maxUnavailable: 0", "maxUnavailable: 1", "maxUnavailable"},
		{"replica name from the node", dep, "fieldPath: metadata.name", "fieldPath: spec.nodeName", "CUTOVER_REPLICA"},
		{"password from another Secret", dep, "name: cutover\n                  key: redis-password", "name: redis\n                  key: redis-password", "REDIS_PASSWORD"},
		{"no admin token", dep, "- name: CUTOVER_ADMIN_TOKEN", "- name: CUTOVER_ADMIN_TOKEM", "CUTOVER_ADMIN_TOKEN"},
		{"config through subPath", dep, "mountPath: /etc/cutover ", "subPath: cutover.yaml\n              mountPath: /etc/cutover ", "subPath"},
		{"config path off the mount", dep, `"-c", "/etc/cutover/cutover.yaml"`, `"-c", "/etc/cutover.yaml"`, "config path"},
		{"writable root", dep, "readOnlyRootFilesystem: true\n            allowPrivilegeEscalation: false", "readOnlyRootFilesystem: false\n            allowPrivilegeEscalation: false", "readOnlyRootFilesystem"},
		{"capabilities kept", dep, `drop: ["ALL"]`, `drop: ["NET_RAW"]`, "capabilities"},
		{"no anti-affinity", dep, "topologyKey: kubernetes.io/hostname", "topologyKey: topology.kubernetes.io/zone", "anti-affinity"},
		{"PDB selects other pods", pdb, "matchLabels:\n      app.kubernetes.io/name: cutover", "matchLabels:\n      app.kubernetes.io/name: cutover-x", "PodDisruptionBudget"},
		{"PDB allows no disruption", pdb, "minAvailable: 2", "minAvailable: 3", "minAvailable"},
		{"proxy Service selects other pods", svc, "selector:\n    app.kubernetes.io/name: cutover\n    app.kubernetes.io/component: gateway\n  ports:\n    - name: http", "selector:\n    app.kubernetes.io/name: redis\n    app.kubernetes.io/component: gateway\n  ports:\n    - name: http", "Service cutover selector"},
		{"admin Service selects other pods", svc, "app.kubernetes.io/component: gateway\n  ports:\n    - name: admin", "app.kubernetes.io/component: store\n  ports:\n    - name: admin", "Service cutover-admin selector"},
		{"proxy Service to the admin port", svc, "targetPort: http", "targetPort: admin", "Service cutover"},
		{"embedded store", cm, "driver: redis", "driver: embedded", "store.driver"},
		{"Redis Service port elsewhere", cm, `addrs: ["redis:6379"]`, `addrs: ["redis:6380"]`, "store.redis.addrs"},
		{"invalid config", cm, `listen: ":8080"`, `listen: "8080"`, "cutover.yaml"},
		{"admin on loopback", cm, `listen: ":9901"`, `listen: "127.0.0.1:9901"`, "admin.listen"},
		{"proxy port differs", cm, `listen: ":8080"`, `listen: ":8081"`, "listen"},
		{"kustomization misses a file", kust, "  - pdb.yaml\n", "", "pdb.yaml"},
		{"kustomization names a missing file", kust, "  - pdb.yaml\n", "  - pdb.yaml\n  - hpa.yaml\n", "hpa.yaml"},
		{"final stage not distroless", "Dockerfile", "FROM gcr.io/distroless/static-debian12:nonroot", "FROM debian:bookworm-slim", "distroless"},
		{"cgo build", "Dockerfile", "CGO_ENABLED=0", "CGO_ENABLED=1", "CGO_ENABLED=0"},
		{"build of the module root", "Dockerfile", "-o /out/cutover ./cmd/cutover", "-o /out/cutover .", "./cmd/cutover"},
		{"root user", "Dockerfile", "USER nonroot", "USER root", "USER nonroot"},
		{"modules not cached", "Dockerfile", "COPY go.mod go.sum ./\n", "", "go.mod"},
		{"git in the context", ".dockerignore", ".git\n", "", ".git"},
	}
	for _, m := range mistakes {
		t.Run(m.name, func(t *testing.T) {
			files := cloneDeployFiles(pristine)
			if n := strings.Count(files[m.file], m.old); n != 1 {
				t.Fatalf("%s holds %q %d times, want once: update this mistake to the file", m.file, m.old, n)
			}
			files[m.file] = strings.Replace(files[m.file], m.old, m.new, 1)
			ps := checkDeploy(files)
			if len(ps) == 0 {
				t.Fatalf("no problem found")
			}
			for _, p := range ps {
				if strings.Contains(p, m.want) {
					return
				}
			}
			t.Errorf("no problem mentions %q; found:\n%s", m.want, strings.Join(ps, "\n"))
		})
	}
}

func setDeployEnv(t *testing.T) {
	for k, v := range deployEnv {
		t.Setenv(k, v)
	}
}

func cloneDeployFiles(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// readDeployFiles returns the deployment files by path from the repository
// root.
func readDeployFiles(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, p := range []string{"Dockerfile", ".dockerignore"} {
		b, err := os.ReadFile(filepath.Join(repoRoot, p))
		if err != nil {
			t.Fatal(err)
		}
		files[p] = string(b)
	}
	entries, err := os.ReadDir(filepath.Join(repoRoot, deployDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(repoRoot, deployDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[deployDir+"/"+e.Name()] = string(b)
	}
	return files
}

// The subset of the Kubernetes objects that the checks read. Unknown fields
// are ignored, so a misspelt field reads as absent.

type k8sMeta struct {
	Name   string            `yaml:"name"`
	Labels map[string]string `yaml:"labels"`
}

type k8sSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

type k8sObject struct {
	APIVersion string  `yaml:"apiVersion"`
	Kind       string  `yaml:"kind"`
	Metadata   k8sMeta `yaml:"metadata"`
	file       string
	node       *yaml.Node
}

type deploymentObj struct {
	Spec struct {
		Replicas *int        `yaml:"replicas"`
		Selector k8sSelector `yaml:"selector"`
		Strategy struct {
			Type          string `yaml:"type"`
			RollingUpdate struct {
				MaxUnavailable string `yaml:"maxUnavailable"`
				MaxSurge       string `yaml:"maxSurge"`
			} `yaml:"rollingUpdate"`
		} `yaml:"strategy"`
		Template k8sPodTemplate `yaml:"template"`
	} `yaml:"spec"`
}

type k8sPodTemplate struct {
	Metadata k8sMeta `yaml:"metadata"`
	Spec     struct {
		TerminationGracePeriodSeconds *int `yaml:"terminationGracePeriodSeconds"`
		SecurityContext               struct {
			RunAsNonRoot *bool `yaml:"runAsNonRoot"`
		} `yaml:"securityContext"`
		Affinity struct {
			PodAntiAffinity struct {
				Preferred []struct {
					Weight          int `yaml:"weight"`
					PodAffinityTerm struct {
						TopologyKey   string      `yaml:"topologyKey"`
						LabelSelector k8sSelector `yaml:"labelSelector"`
					} `yaml:"podAffinityTerm"`
				} `yaml:"preferredDuringSchedulingIgnoredDuringExecution"`
			} `yaml:"podAntiAffinity"`
		} `yaml:"affinity"`
		Containers []k8sContainer `yaml:"containers"`
		Volumes    []struct {
			Name      string `yaml:"name"`
			ConfigMap *struct {
				Name string `yaml:"name"`
			} `yaml:"configMap"`
		} `yaml:"volumes"`
	} `yaml:"spec"`
}

type k8sContainer struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Ports   []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom struct {
			FieldRef *struct {
				FieldPath string `yaml:"fieldPath"`
			} `yaml:"fieldRef"`
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	StartupProbe   *k8sProbe `yaml:"startupProbe"`
	LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
	ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
	Lifecycle      struct {
		PreStop *struct {
			Sleep *struct {
				Seconds int `yaml:"seconds"`
			} `yaml:"sleep"`
		} `yaml:"preStop"`
	} `yaml:"lifecycle"`
	SecurityContext struct {
		RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		SubPath   string `yaml:"subPath"`
	} `yaml:"volumeMounts"`
}

type k8sProbe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"` // a name or a number
	} `yaml:"httpGet"`
	PeriodSeconds    int `yaml:"periodSeconds"`
	FailureThreshold int `yaml:"failureThreshold"`
}

type serviceObj struct {
	Spec struct {
		Type     string            `yaml:"type"`
		Selector map[string]string `yaml:"selector"`
		Ports    []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort string `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type pdbObj struct {
	Spec struct {
		MinAvailable string      `yaml:"minAvailable"`
		Selector     k8sSelector `yaml:"selector"`
	} `yaml:"spec"`
}

type statefulSetObj struct {
	Spec struct {
		Selector k8sSelector    `yaml:"selector"`
		Template k8sPodTemplate `yaml:"template"`
	} `yaml:"spec"`
}

type configMapObj struct {
	Data map[string]string `yaml:"data"`
}

type kustomizationObj struct {
	Resources []string `yaml:"resources"`
}

// deployProblems collects what is wrong, in words that name the file.
type deployProblems []string

func (ps *deployProblems) add(format string, args ...any) {
	*ps = append(*ps, fmt.Sprintf(format, args...))
}

// checkDeploy returns every problem found in files (path → content).
func checkDeploy(files map[string]string) []string {
	var ps deployProblems
	checkDockerfile(&ps, files["Dockerfile"], files[".dockerignore"])

	var objs []*k8sObject
	var kust *kustomizationObj
	for path, text := range files {
		if !strings.HasPrefix(path, deployDir+"/") || !strings.HasSuffix(path, ".yaml") {
			continue
		}
		docs, err := decodeYAMLDocs(text)
		if err != nil {
			ps.add("%s: %v", path, err)
			continue
		}
		if filepath.Base(path) == "kustomization.yaml" {
			kust = &kustomizationObj{}
			if err := docs[0].Decode(kust); err != nil {
				ps.add("%s: %v", path, err)
			}
			continue
		}
		for i, n := range docs {
			o := &k8sObject{file: path, node: n}
			if err := n.Decode(o); err != nil {
				ps.add("%s: document %d: %v", path, i+1, err)
				continue
			}
			if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
				ps.add("%s: document %d lacks apiVersion, kind or metadata.name", path, i+1)
				continue
			}
			objs = append(objs, o)
		}
	}
	checkKustomization(&ps, kust, files)

	find := func(kind, name string, into any) bool {
		for _, o := range objs {
			if o.Kind == kind && o.Metadata.Name == name {
				if err := o.node.Decode(into); err != nil {
					ps.add("%s: %s %s: %v", o.file, kind, name, err)
					return false
				}
				return true
			}
		}
		ps.add("%s: no %s %q", deployDir, kind, name)
		return false
	}

	var cfg *configs.Config
	var cm configMapObj
	if find("ConfigMap", "cutover", &cm) {
		cfg = checkGatewayConfig(&ps, cm.Data)
	}
	var dep deploymentObj
	if !find("Deployment", "cutover", &dep) {
		return ps
	}
	podLabels := dep.Spec.Template.Metadata.Labels
	c := checkDeployment(&ps, &dep, cfg)

	var pdb pdbObj
	if find("PodDisruptionBudget", "cutover", &pdb) {
		if !selectsLabels(pdb.Spec.Selector.MatchLabels, podLabels) {
			ps.add("PodDisruptionBudget cutover: selector %v does not select the Deployment's pods %v", pdb.Spec.Selector.MatchLabels, podLabels)
		}
		min, err := strconv.Atoi(pdb.Spec.MinAvailable)
		if replicas := dep.Spec.Replicas; err != nil || replicas == nil || min < 2 || min >= *replicas {
			ps.add("PodDisruptionBudget cutover: minAvailable %q must be at least 2 and below the Deployment's replicas", pdb.Spec.MinAvailable)
		}
	}

	services := []struct{ name, port string }{{"cutover", "http"}, {"cutover-admin", "admin"}}
	for _, want := range services {
		var svc serviceObj
		if !find("Service", want.name, &svc) {
			continue
		}
		if !selectsLabels(svc.Spec.Selector, podLabels) {
			ps.add("Service %s selector %v does not select the Deployment's pods %v", want.name, svc.Spec.Selector, podLabels)
		}
		if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort != want.port {
			ps.add("Service %s: want one port with targetPort %s", want.name, want.port)
		} else if c != nil && namedPort(c, want.port) == 0 {
			ps.add("Service %s: targetPort %s is not a port of the container", want.name, want.port)
		}
		if want.name == "cutover" && (len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 80) {
			ps.add("Service cutover: want port 80")
		}
	}

	// The reference Redis must be what store.redis.addrs names, and must not
	// be mistaken for a gateway pod (nor the gateway for Redis).
	var redisSvc serviceObj
	var redisSts statefulSetObj
	if find("Service", "redis", &redisSvc) && find("StatefulSet", "redis", &redisSts) {
		redisLabels := redisSts.Spec.Template.Metadata.Labels
		if !selectsLabels(redisSvc.Spec.Selector, redisLabels) || selectsLabels(redisSvc.Spec.Selector, podLabels) {
			ps.add("Service redis must select the redis pods and not the gateway's")
		}
		if selectsLabels(dep.Spec.Selector.MatchLabels, redisLabels) {
			ps.add("Deployment cutover: selector also selects the redis pods")
		}
		if cfg != nil && len(redisSvc.Spec.Ports) > 0 {
			want := net.JoinHostPort("redis", strconv.Itoa(redisSvc.Spec.Ports[0].Port))
			if !slices.Contains(cfg.Store.Redis.Addrs, want) {
				ps.add("configmap.yaml: store.redis.addrs %v does not name the Service redis (%s)", cfg.Store.Redis.Addrs, want)
			}
		}
	}
	return ps
}

func decodeYAMLDocs(text string) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(strings.NewReader(text))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(n.Content) > 0 && n.Content[0].Kind == yaml.MappingNode {
			docs = append(docs, &n)
		}
	}
	if len(docs) == 0 {
		return nil, errors.New("no YAML document")
	}
	return docs, nil
}

// checkGatewayConfig validates cutover.yaml as `cutover check` does.
func checkGatewayConfig(ps *deployProblems, data map[string]string) *configs.Config {
	text, ok := data["cutover.yaml"]
	if !ok {
		ps.add("ConfigMap cutover: no key cutover.yaml")
		return nil
	}
	cfg, err := configs.Parse("configmap.yaml:cutover.yaml", []byte(text))
	if err != nil {
		ps.add("ConfigMap cutover: cutover.yaml is invalid:\n%v", err)
		return nil
	}
	if cfg.Store.Driver != "redis" {
		ps.add("ConfigMap cutover: store.driver is %q, want redis: replicas must share one store", cfg.Store.Driver)
	}
	if configs.IsLoopback(cfg.Admin.Listen) {
		ps.add("ConfigMap cutover: admin.listen %s is loopback, so the kubelet's probes cannot reach it", cfg.Admin.Listen)
	}
	return cfg
}

// checkDeployment checks the Deployment and returns its cutover k8sContainer,
// or nil.
func checkDeployment(ps *deployProblems, dep *deploymentObj, cfg *configs.Config) *k8sContainer {
	s := &dep.Spec
	if s.Replicas == nil || *s.Replicas != 3 {
		ps.add("Deployment cutover: want replicas 3")
	}
	if !selectsLabels(s.Selector.MatchLabels, s.Template.Metadata.Labels) {
		ps.add("Deployment cutover: selector does not select its own pods")
	}
	ru := s.Strategy.RollingUpdate
	if s.Strategy.Type != "RollingUpdate" || ru.MaxUnavailable != "0" || ru.MaxSurge != "1" {
		ps.add("Deployment cutover: want a RollingUpdate with maxUnavailable 0 and maxSurge 1, have %q, %q, %q", s.Strategy.Type, ru.MaxUnavailable, ru.MaxSurge)
	}
	pod := &s.Template.Spec
	anti := false
	for _, p := range pod.Affinity.PodAntiAffinity.Preferred {
		if p.Weight > 0 && p.PodAffinityTerm.TopologyKey == "kubernetes.io/hostname" &&
			selectsLabels(p.PodAffinityTerm.LabelSelector.MatchLabels, s.Template.Metadata.Labels) {
			anti = true
		}
	}
	if !anti {
		ps.add("Deployment cutover: want a preferred pod anti-affinity across nodes (kubernetes.io/hostname) on its own pods")
	}
	if pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
		ps.add("Deployment cutover: want the pod's runAsNonRoot: true")
	}
	var c *k8sContainer
	for i := range pod.Containers {
		if pod.Containers[i].Name == "cutover" {
			c = &pod.Containers[i]
		}
	}
	if c == nil {
		ps.add("Deployment cutover: no container named cutover")
		return nil
	}

	// Ports, in step with the config.
	httpPort, adminPort := namedPort(c, "http"), namedPort(c, "admin")
	if httpPort != 8080 || adminPort != 9901 {
		ps.add("Deployment cutover: want container ports http 8080 and admin 9901, have %d and %d", httpPort, adminPort)
	}
	if cfg != nil {
		if p := addrPort(cfg.Listen); p != httpPort {
			ps.add("Deployment cutover: the config's listen %s is not the container port http (%d)", cfg.Listen, httpPort)
		}
		if p := addrPort(cfg.Admin.Listen); p != adminPort {
			ps.add("Deployment cutover: the config's admin.listen %s is not the container port admin (%d)", cfg.Admin.Listen, adminPort)
		}
	}

	// Probes on the admin listener, without the token.
	checkProbe := func(name string, p *k8sProbe, path string) {
		switch {
		case p == nil:
			ps.add("Deployment cutover: no %s", name)
		case p.HTTPGet == nil || p.HTTPGet.Path != path:
			ps.add("Deployment cutover: %s path must be %s", name, path)
		case resolveNamedPort(c, p.HTTPGet.Port) != adminPort || adminPort == 0:
			ps.add("Deployment cutover: %s port must be the admin port", name)
		}
	}
	checkProbe("livenessProbe", c.LivenessProbe, "/healthz")
	checkProbe("readinessProbe", c.ReadinessProbe, "/readyz")
	if c.StartupProbe == nil || c.StartupProbe.HTTPGet == nil {
		ps.add("Deployment cutover: no startupProbe")
	}
	if r := c.ReadinessProbe; r != nil && (r.PeriodSeconds != 2 || r.FailureThreshold != 2) {
		ps.add("Deployment cutover: readinessProbe periodSeconds and failureThreshold must be 2 and 2 (a draining replica leaves within seconds), have %d and %d", r.PeriodSeconds, r.FailureThreshold)
	}

	// Resources.
	if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" {
		ps.add("Deployment cutover: want resources requests for cpu and memory")
	}
	limit, err := parseQuantity(c.Resources.Limits["memory"])
	if err != nil {
		ps.add("Deployment cutover: want a memory limit: %v", err)
	}
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" {
			if v, err := parseGoMemLimit(e.Value); err != nil || limit == 0 || v >= limit {
				ps.add("Deployment cutover: GOMEMLIMIT %q must be below the memory limit", e.Value)
			}
		}
	}

	// Shutdown: preStop sleep, then the drain, within the grace period.
	sleep := 0
	if p := c.Lifecycle.PreStop; p != nil && p.Sleep != nil {
		sleep = p.Sleep.Seconds
	}
	if sleep <= 0 {
		ps.add("Deployment cutover: want a preStop sleep action, so endpoints drop the pod before SIGTERM")
	}
	if cfg != nil {
		need := time.Duration(sleep)*time.Second + cfg.ShutdownTimeout.D() + shutdownAfterDrain
		g := pod.TerminationGracePeriodSeconds
		if g == nil || time.Duration(*g)*time.Second < need {
			ps.add("Deployment cutover: terminationGracePeriodSeconds must be at least preStop %ds + shutdown_timeout %s + %s = %s", sleep, cfg.ShutdownTimeout, shutdownAfterDrain, need)
		}
	}

	// Environment: replica identity and the secrets the config names.
	env := map[string]int{}
	for i, e := range c.Env {
		env[e.Name] = i
	}
	if i, ok := env["CUTOVER_REPLICA"]; !ok || c.Env[i].ValueFrom.FieldRef == nil || c.Env[i].ValueFrom.FieldRef.FieldPath != "metadata.name" {
		ps.add("Deployment cutover: CUTOVER_REPLICA must come from the pod's metadata.name")
	}
	secrets := []string{"REDIS_PASSWORD", "CUTOVER_ADMIN_TOKEN"}
	if cfg != nil {
		secrets = append(secrets, cfg.Store.Redis.PasswordEnv, cfg.Admin.TokenEnv)
	}
	slices.Sort(secrets)
	secrets = slices.Compact(secrets)
	for _, name := range secrets {
		i, ok := env[name]
		if !ok || c.Env[i].ValueFrom.SecretKeyRef == nil || c.Env[i].ValueFrom.SecretKeyRef.Name != "cutover" {
			ps.add("Deployment cutover: %s must come from the Secret cutover", name)
		}
	}

	// The config: the ConfigMap mounted as a directory (a subPath mount is
	// never updated, so reloads would not happen), holding the file that
	// serve reads.
	configVolume := ""
	for _, v := range pod.Volumes {
		if v.ConfigMap != nil && v.ConfigMap.Name == "cutover" {
			configVolume = v.Name
		}
	}
	mountPath := ""
	for _, m := range c.VolumeMounts {
		if m.Name == configVolume && configVolume != "" {
			mountPath = m.MountPath
			if m.SubPath != "" {
				ps.add("Deployment cutover: the ConfigMap is mounted with subPath, which the kubelet never updates")
			}
		}
	}
	if mountPath != "/etc/cutover" {
		ps.add("Deployment cutover: want the ConfigMap cutover mounted at /etc/cutover, have %q", mountPath)
	}
	args := append(slices.Clone(c.Command), c.Args...)
	if i := slices.Index(args, "-c"); i < 0 || i+1 >= len(args) || args[i+1] != mountPath+"/cutover.yaml" || !slices.Contains(args, "serve") {
		ps.add("Deployment cutover: the config path in %q must be serve -c %s/cutover.yaml", args, mountPath)
	}

	sc := c.SecurityContext
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		ps.add("Deployment cutover: want runAsNonRoot: true")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		ps.add("Deployment cutover: want readOnlyRootFilesystem: true")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		ps.add("Deployment cutover: want allowPrivilegeEscalation: false")
	}
	if !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) {
		ps.add("Deployment cutover: want capabilities drop [ALL]")
	}
	return c
}

func checkKustomization(ps *deployProblems, kust *kustomizationObj, files map[string]string) {
	if kust == nil {
		ps.add("%s: no kustomization.yaml", deployDir)
		return
	}
	for path := range files {
		name := strings.TrimPrefix(path, deployDir+"/")
		if name != path && strings.HasSuffix(name, ".yaml") && name != "kustomization.yaml" && !slices.Contains(kust.Resources, name) {
			ps.add("kustomization.yaml: resources do not list %s", name)
		}
	}
	for _, r := range kust.Resources {
		if _, ok := files[deployDir+"/"+r]; !ok {
			ps.add("kustomization.yaml: resource %s does not exist", r)
		}
	}
}

var dockerFromLine = regexp.MustCompile(`(?im)^FROM\s+(?:--platform=\S+\s+)?(\S+)`)

func checkDockerfile(ps *deployProblems, df, ignore string) {
	froms := dockerFromLine.FindAllStringSubmatch(df, -1)
	if len(froms) < 2 {
		ps.add("Dockerfile: want a build stage and a final stage, have %d FROM lines", len(froms))
		return
	}
	if !strings.HasPrefix(froms[0][1], "golang:") {
		ps.add("Dockerfile: the build stage must be golang, not %s", froms[0][1])
	}
	if final := froms[len(froms)-1][1]; final != "gcr.io/distroless/static-debian12:nonroot" {
		ps.add("Dockerfile: the final stage must be gcr.io/distroless/static-debian12:nonroot, not %s", final)
	}
	build := df[:strings.LastIndex(df, froms[len(froms)-1][0])]
	final := df[len(build):]
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "go build", "ARG VERSION", "buildinfo.Version=${VERSION}", "./cmd/cutover"} {
		if !strings.Contains(build, want) {
			ps.add("Dockerfile: the build stage lacks %s", want)
		}
	}
	// go.mod and go.sum are copied, and the modules downloaded, before the
	// sources, so that layer survives source edits.
	mod, download, all := strings.Index(build, "COPY go.mod go.sum"), strings.Index(build, "go mod download"), strings.Index(build, "COPY . .")
	if mod < 0 || download < mod || all < download {
		ps.add("Dockerfile: want COPY go.mod go.sum, then go mod download, then COPY . .")
	}
	for _, want := range []string{"USER nonroot", "EXPOSE 8080 9901", `ENTRYPOINT ["/cutover"]`, `CMD ["serve", "-c", "/etc/cutover/cutover.yaml"]`} {
		if !strings.Contains(final, want) {
			ps.add("Dockerfile: the final stage lacks %s", want)
		}
	}
	lines := strings.Fields(ignore)
	for _, want := range []string{".git", "bin/", "data/", "bench/out/", "*.test"} {
		if !slices.Contains(lines, want) {
			ps.add(".dockerignore: lacks %s", want)
		}
	}
}

// selectsLabels reports whether a non-empty selector matches labels.
func selectsLabels(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func namedPort(c *k8sContainer, name string) int {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return 0
}

func resolveNamedPort(c *k8sContainer, port string) int {
	if n, err := strconv.Atoi(port); err == nil {
		return n
	}
	return namedPort(c, port)
}

func addrPort(addr string) int {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return -1
	}
	return n
}

// parseQuantity reads a Kubernetes memory quantity (512Mi, 1Gi, 1G) as bytes.
func parseQuantity(q string) (int64, error) {
	return parseSuffixed(q, map[string]int64{
		"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40,
		"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "": 1,
	})
}

// parseGoMemLimit reads a GOMEMLIMIT value (900MiB, 1GiB, 1000000) as bytes.
func parseGoMemLimit(v string) (int64, error) {
	return parseSuffixed(v, map[string]int64{
		"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40, "B": 1, "": 1,
	})
}

func parseSuffixed(s string, units map[string]int64) (int64, error) {
	i := len(s)
	for i > 0 && !bytes.ContainsRune([]byte("0123456789"), rune(s[i-1])) {
		i--
	}
	unit, ok := units[s[i:]]
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if !ok || err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	return n * unit, nil
}
