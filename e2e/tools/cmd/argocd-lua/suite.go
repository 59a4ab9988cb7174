package main

// The test suite: every kind's health_test.yaml and actions/action_test.yaml,
// against the scripts of the .lua files or of a rendered argocd-cm fragment.

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// kindScripts are one kind's customizations.
type kindScripts struct {
	Health    string
	Discovery string
	Actions   map[string]string
}

// loadScripts reads the scripts of every DIR/<group>/<Kind>/, or, with
// configMap, of that rendered ConfigMap (which must cover the same kinds and actions).
func loadScripts(dir, configMap string) (map[string]*kindScripts, error) {
	files := map[string]*kindScripts{}
	kinds, err := filepath.Glob(filepath.Join(dir, "*", "*", "health.lua"))
	if err != nil {
		return nil, err
	}
	for _, h := range kinds {
		kindDir := filepath.Dir(h)
		key := filepath.Base(filepath.Dir(kindDir)) + "/" + filepath.Base(kindDir)
		ks := &kindScripts{Actions: map[string]string{}}
		raw, err := os.ReadFile(h)
		if err != nil {
			return nil, err
		}
		ks.Health = string(raw)
		if raw, err := os.ReadFile(filepath.Join(kindDir, "actions", "discovery.lua")); err == nil {
			ks.Discovery = string(raw)
			actions, _ := filepath.Glob(filepath.Join(kindDir, "actions", "*", "action.lua"))
			for _, a := range actions {
				raw, err := os.ReadFile(a)
				if err != nil {
					return nil, err
				}
				ks.Actions[filepath.Base(filepath.Dir(a))] = string(raw)
			}
		}
		files[key] = ks
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no <group>/<Kind>/health.lua under %s", dir)
	}
	if configMap == "" {
		return files, nil
	}
	fromCM, err := configMapScripts(configMap)
	if err != nil {
		return nil, err
	}
	for key, ks := range files {
		cm, ok := fromCM[key]
		if !ok || cm.Health == "" {
			return nil, fmt.Errorf("%s: no health script for %s", configMap, key)
		}
		if (ks.Discovery == "") != (cm.Discovery == "") || len(ks.Actions) != len(cm.Actions) {
			return nil, fmt.Errorf("%s: the actions of %s differ from %s", configMap, key, dir)
		}
		for name := range ks.Actions {
			if _, ok := cm.Actions[name]; !ok {
				return nil, fmt.Errorf("%s: no action %s for %s", configMap, name, key)
			}
		}
	}
	if len(fromCM) != len(files) {
		return nil, fmt.Errorf("%s covers %d kinds, %s %d", configMap, len(fromCM), dir, len(files))
	}
	return fromCM, nil
}

// configMapScripts reads `resource.customizations.{health,actions}.<group>_<Kind>` keys.
func configMapScripts(path string) (map[string]*kindScripts, error) {
	var cm struct {
		Data map[string]string `json:"data"`
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(raw, &cm); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := map[string]*kindScripts{}
	for k, v := range cm.Data {
		parts := strings.SplitN(k, ".", 4)
		if len(parts) != 4 || parts[0] != "resource" || parts[1] != "customizations" {
			return nil, fmt.Errorf("%s: unexpected key %s", path, k)
		}
		i := strings.LastIndex(parts[3], "_")
		if i < 0 {
			return nil, fmt.Errorf("%s: key %s does not end in <group>_<Kind>", path, k)
		}
		key := parts[3][:i] + "/" + parts[3][i+1:]
		ks := out[key]
		if ks == nil {
			ks = &kindScripts{Actions: map[string]string{}}
			out[key] = ks
		}
		switch parts[2] {
		case "health":
			ks.Health = v
		case "actions":
			var actions struct {
				Discovery   string `json:"discovery.lua"`
				Definitions []struct {
					Name   string `json:"name"`
					Action string `json:"action.lua"`
				} `json:"definitions"`
			}
			if err := yaml.UnmarshalStrict([]byte(v), &actions); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", path, k, err)
			}
			ks.Discovery = actions.Discovery
			for _, d := range actions.Definitions {
				ks.Actions[d.Name] = d.Action
			}
		default:
			return nil, fmt.Errorf("%s: unexpected customization type in %s", path, k)
		}
	}
	return out, nil
}

type healthTests struct {
	Tests []struct {
		HealthStatus healthStatus `json:"healthStatus"`
		InputPath    string       `json:"inputPath"`
	} `json:"tests"`
}

type actionTests struct {
	DiscoveryTests []struct {
		InputPath string           `json:"inputPath"`
		Result    []resourceAction `json:"result"`
	} `json:"discoveryTests"`
	ActionTests []struct {
		Action               string            `json:"action"`
		InputPath            string            `json:"inputPath"`
		ExpectedOutputPath   string            `json:"expectedOutputPath,omitempty"`
		ExpectedErrorMessage string            `json:"expectedErrorMessage,omitempty"`
		Parameters           map[string]string `json:"parameters,omitempty"`
	} `json:"actionTests"`
}

// testAll runs every test under dir; it returns the number of failures.
func testAll(dir string, scripts map[string]*kindScripts, now time.Time) int {
	failures, passed := 0, 0
	fail := func(format string, args ...any) {
		failures++
		fmt.Printf("FAIL "+format+"\n", args...)
	}
	used := map[string]bool{}
	keys := make([]string, 0, len(scripts))
	for k := range scripts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		ks := scripts[key]
		kindDir := filepath.Join(dir, filepath.FromSlash(key))
		var ht healthTests
		if err := readYAML(filepath.Join(kindDir, "health_test.yaml"), &ht); err != nil {
			fail("%s: %v", key, err)
			continue
		}
		if len(ht.Tests) == 0 {
			fail("%s: health_test.yaml has no tests", key)
		}
		for _, t := range ht.Tests {
			input := filepath.Join(kindDir, t.InputPath)
			used[input] = true
			obj, err := readObject(input)
			if err != nil {
				fail("%s health %s: %v", key, t.InputPath, err)
				continue
			}
			got, err := health(ks.Health, obj)
			if err != nil {
				fail("%s health %s: %v", key, t.InputPath, err)
			} else if got != t.HealthStatus {
				fail("%s health %s:\n  want %s: %s\n  got  %s: %s", key, t.InputPath, t.HealthStatus.Status, t.HealthStatus.Message, got.Status, got.Message)
			} else {
				passed++
				fmt.Printf("ok   %s health %s → %s: %s\n", key, t.InputPath, got.Status, got.Message)
			}
		}
		if ks.Discovery == "" {
			continue
		}
		failures += testActions(key, filepath.Join(kindDir, "actions"), ks, now, used, &passed)
	}
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && filepath.Base(filepath.Dir(path)) == "testdata" && !used[path] {
			fail("%s is used by no test", relative(dir, path))
		}
		return nil
	})
	fmt.Printf("%d passed\n", passed)
	return failures
}

func testActions(key, dir string, ks *kindScripts, now time.Time, used map[string]bool, passed *int) int {
	failures := 0
	fail := func(format string, args ...any) {
		failures++
		fmt.Printf("FAIL "+format+"\n", args...)
	}
	var at actionTests
	if err := readYAML(filepath.Join(dir, "action_test.yaml"), &at); err != nil {
		fail("%s: %v", key, err)
		return failures
	}
	if len(at.DiscoveryTests) == 0 {
		fail("%s: action_test.yaml has no discovery tests", key)
	}
	for _, t := range at.DiscoveryTests {
		input := filepath.Join(dir, t.InputPath)
		used[input] = true
		obj, err := readObject(input)
		if err != nil {
			fail("%s discovery %s: %v", key, t.InputPath, err)
			continue
		}
		got, err := discover(ks.Discovery, obj, now)
		for _, a := range got {
			if _, ok := ks.Actions[a.Name]; !ok {
				fail("%s discovery %s: action %s has no definition", key, t.InputPath, a.Name)
			}
		}
		want := append([]resourceAction{}, t.Result...)
		sort.Slice(want, func(i, j int) bool { return want[i].Name < want[j].Name })
		if err != nil {
			fail("%s discovery %s: %v", key, t.InputPath, err)
		} else if !equal(got, want) {
			fail("%s discovery %s:\n  want %s\n  got  %s", key, t.InputPath, pretty(want), pretty(got))
		} else {
			*passed++
			fmt.Printf("ok   %s discovery %s\n", key, t.InputPath)
		}
	}
	tested := map[string]bool{}
	for _, t := range at.ActionTests {
		tested[t.Action] = true
		script, ok := ks.Actions[t.Action]
		if !ok {
			fail("%s action %s: no such action", key, t.Action)
			continue
		}
		input := filepath.Join(dir, t.InputPath)
		used[input] = true
		obj, err := readObject(input)
		if err != nil {
			fail("%s action %s: %v", key, t.Action, err)
			continue
		}
		got, err := act(script, obj, t.Parameters, now)
		if t.ExpectedErrorMessage != "" {
			if err == nil || trimmed(err.Error()) != t.ExpectedErrorMessage {
				fail("%s action %s %s: want the error %q, got %v", key, t.Action, t.InputPath, t.ExpectedErrorMessage, err)
			} else {
				*passed++
			}
			continue
		}
		if err != nil {
			fail("%s action %s %s: %v", key, t.Action, t.InputPath, err)
			continue
		}
		expectedPath := filepath.Join(dir, t.ExpectedOutputPath)
		used[expectedPath] = true
		raw, err := os.ReadFile(expectedPath)
		if err != nil {
			fail("%s action %s: %v", key, t.Action, err)
			continue
		}
		// a list of {k8sOperation, unstructuredObj}, or the patched object
		var want []impacted
		var doc any
		if err = yaml.Unmarshal(raw, &doc); err == nil {
			if _, isList := doc.([]any); isList {
				err = yaml.UnmarshalStrict(raw, &want)
			} else if obj, ok := doc.(map[string]any); ok {
				want = []impacted{{Operation: "patch", Object: obj}}
			} else {
				err = fmt.Errorf("neither an object nor a list")
			}
		}
		if err != nil {
			fail("%s action %s: %s: %v", key, t.Action, t.ExpectedOutputPath, err)
		} else if !equal(got, want) {
			fail("%s action %s %s:\n  want %s\n  got  %s", key, t.Action, t.InputPath, pretty(want), pretty(got))
		} else {
			*passed++
			fmt.Printf("ok   %s action %s %s\n", key, t.Action, t.InputPath)
		}
	}
	for name := range ks.Actions {
		if !tested[name] {
			fail("%s: action %s has no test", key, name)
		}
	}
	return failures
}
