//go:build tools

// Package tools keeps the kube-apiserver and kubectl commands in the module
// graph so that `go build k8s.io/kubernetes/cmd/...` works from here.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
