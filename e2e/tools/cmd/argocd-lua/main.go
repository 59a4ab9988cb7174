// Command argocd-lua runs ADE's Argo CD resource customizations (health
// checks and actions in Lua) the way Argo CD does, against the test files in
// Argo CD's own formats (health_test.yaml, actions/action_test.yaml):
//
//	argocd-lua test [--configmap FILE] [--now RFC3339] DIR
//	argocd-lua health SCRIPT OBJECT.yaml
//
// `test` walks DIR/<group>/<Kind>/ and fails when a script's answer differs
// from the expected one, a kind has no health tests, an action has no test,
// or a testdata file is used by no test. With --configmap the scripts are
// read from a rendered argocd-cm fragment (the chart's) instead of the
// .lua files, so the chart is tested too.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "test":
		fs := flag.NewFlagSet("test", flag.ExitOnError)
		cm := fs.String("configmap", "", "read the scripts from this rendered ConfigMap instead of the .lua files")
		nowFlag := fs.String("now", "2026-11-30T12:00:00Z", "the clock os.time and os.date read")
		_ = fs.Parse(os.Args[2:])
		if fs.NArg() != 1 {
			usage()
		}
		now, err := time.Parse(time.RFC3339, *nowFlag)
		check(err)
		scripts, err := loadScripts(fs.Arg(0), *cm)
		check(err)
		failures := testAll(fs.Arg(0), scripts, now)
		if failures > 0 {
			fmt.Printf("FAILED: %d\n", failures)
			os.Exit(1)
		}
	case "health":
		if len(os.Args) != 4 {
			usage()
		}
		script, err := os.ReadFile(os.Args[2])
		check(err)
		obj, err := readObject(os.Args[3])
		check(err)
		hs, err := health(string(script), obj)
		check(err)
		fmt.Printf("%s: %s\n", hs.Status, hs.Message)
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: argocd-lua test [--configmap FILE] [--now RFC3339] DIR | argocd-lua health SCRIPT OBJECT.yaml")
	os.Exit(2)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "argocd-lua:", err)
		os.Exit(1)
	}
}

// healthStatus is Argo CD's health.HealthStatus.
type healthStatus struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
}

var validStatus = map[string]bool{"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true}

// health runs a health script as Argo CD's ExecuteHealthLua does.
func health(script string, obj map[string]any) (healthStatus, error) {
	out, err := run(script, obj, nil, time.Now())
	if err != nil {
		return healthStatus{}, err
	}
	switch v := out.(type) {
	case nil, []any:
		return healthStatus{}, nil
	case map[string]any:
		raw, _ := json.Marshal(v)
		var hs healthStatus
		if err := json.Unmarshal(raw, &hs); err != nil || !validStatus[hs.Status] {
			return healthStatus{Status: "Unknown", Message: "Lua returned an invalid health status"}, nil
		}
		return hs, nil
	default:
		return healthStatus{}, fmt.Errorf("expect table output from Lua script, not %T", out)
	}
}

// resourceAction is what discovery.lua announces (Argo CD's ResourceAction).
type resourceAction struct {
	Name        string `json:"name"`
	Disabled    bool   `json:"disabled,omitempty"`
	IconClass   string `json:"iconClass,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
}

func discover(script string, obj map[string]any, now time.Time) ([]resourceAction, error) {
	out, err := run(script, obj, nil, now)
	if err != nil {
		return nil, err
	}
	found := []resourceAction{}
	switch v := out.(type) {
	case []any:
		return found, nil
	case map[string]any:
		for name, spec := range v {
			a := resourceAction{Name: name}
			if m, ok := spec.(map[string]any); ok {
				a.Disabled, _ = m["disabled"].(bool)
				a.IconClass, _ = m["iconClass"].(string)
				a.DisplayName, _ = m["displayName"].(string)
			}
			found = append(found, a)
		}
	default:
		return nil, fmt.Errorf("expect table output from Lua script, not %T", out)
	}
	sort.Slice(found, func(i, j int) bool { return found[i].Name < found[j].Name })
	return found, nil
}

// impacted is one result of an action, as Argo CD's action tests write it.
type impacted struct {
	Operation string         `json:"k8sOperation"`
	Object    map[string]any `json:"unstructuredObj"`
}

// act runs an action script as Argo CD's ExecuteResourceAction does: a list
// of {operation, resource} (create or patch), or the patched object.
func act(script string, obj map[string]any, params map[string]string, now time.Time) ([]impacted, error) {
	out, err := run(script, obj, params, now)
	if err != nil {
		return nil, err
	}
	switch v := out.(type) {
	case map[string]any:
		return []impacted{{Operation: "patch", Object: cleanReturned(obj, v).(map[string]any)}}, nil
	case []any:
		var result []impacted
		for _, item := range v {
			m, ok := item.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("an action result must be a table")
			}
			op, _ := m["operation"].(string)
			res, _ := m["resource"].(map[string]any)
			if op != "create" && op != "patch" {
				return nil, fmt.Errorf("unsupported operation: %q", op)
			}
			if op == "patch" {
				res = cleanReturned(obj, res).(map[string]any)
			}
			result = append(result, impacted{Operation: op, Object: res})
		}
		return result, nil
	default:
		return nil, fmt.Errorf("expect table output from Lua script, not %T", out)
	}
}

// cleanReturned turns empty arrays back into empty maps where the original
// object had a map (Lua cannot tell the two apart), inside arrays too, as
// Argo CD's cleanReturnedObj and cleanReturnedArray do.
func cleanReturned(orig, out any) any {
	if oa, ok := orig.([]any); ok {
		if na, ok := out.([]any); ok {
			for i := range na {
				if i < len(oa) {
					na[i] = cleanReturned(oa[i], na[i])
				}
			}
		}
		return out
	}
	o, ok := orig.(map[string]any)
	if !ok {
		return out
	}
	switch v := out.(type) {
	case []any:
		if len(v) == 0 {
			return map[string]any{}
		}
		return v
	case map[string]any:
		for k, item := range v {
			v[k] = cleanReturned(o[k], item)
		}
		return v
	default:
		return out
	}
}

// normal is v as JSON would read it back: numbers float64, maps map[string]any.
func normal(v any) any {
	raw, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(raw, &out)
	return out
}

func readObject(path string) (map[string]any, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var obj map[string]any
	if err := yaml.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return obj, nil
}

func readYAML(path string, into any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := yaml.UnmarshalStrict(raw, into); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func pretty(v any) string {
	raw, _ := yaml.Marshal(v)
	return string(bytes.TrimSpace(raw))
}

func relative(dir, path string) string {
	if rel, err := filepath.Rel(dir, path); err == nil {
		return rel
	}
	return path
}

func equal(a, b any) bool { return reflect.DeepEqual(normal(a), normal(b)) }

func trimmed(s string) string { return strings.TrimSpace(s) }
