// Command cri is a minimal CRI client for the local cluster (Debian bookworm has no crictl).
//
//	cri -r unix:///path/containerd.sock pods|ps|images|version
//	cri -r ... rmp-all      stop+remove every pod sandbox (runs CNI DEL, unmounts netns)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	rt "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func main() {
	ep := flag.String("r", "unix:///run/dilo-containerd.sock", "CRI endpoint")
	timeout := flag.Duration("timeout", 60*time.Second, "overall timeout")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	conn, err := grpc.NewClient(*ep, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fail(err)
	}
	defer conn.Close()
	rs := rt.NewRuntimeServiceClient(conn)
	is := rt.NewImageServiceClient(conn)
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	defer tw.Flush()
	switch flag.Arg(0) {
	case "version":
		v, err := rs.Version(ctx, &rt.VersionRequest{})
		check(err)
		fmt.Printf("%s %s (CRI %s)\n", v.RuntimeName, v.RuntimeVersion, v.RuntimeApiVersion)
		st, err := rs.Status(ctx, &rt.StatusRequest{})
		check(err)
		for _, c := range st.Status.Conditions {
			fmt.Printf("  %s=%v %s %s\n", c.Type, c.Status, c.Reason, c.Message)
		}
	case "pods":
		r, err := rs.ListPodSandbox(ctx, &rt.ListPodSandboxRequest{})
		check(err)
		fmt.Fprintln(tw, "POD ID\tSTATE\tNAMESPACE/NAME\tAGE")
		for _, p := range r.Items {
			fmt.Fprintf(tw, "%.13s\t%s\t%s/%s\t%s\n", p.Id, p.State, p.Metadata.Namespace, p.Metadata.Name, age(p.CreatedAt))
		}
	case "ps":
		r, err := rs.ListContainers(ctx, &rt.ListContainersRequest{})
		check(err)
		fmt.Fprintln(tw, "CONTAINER\tSTATE\tNAME\tPOD\tIMAGE\tAGE")
		for _, c := range r.Containers {
			fmt.Fprintf(tw, "%.13s\t%s\t%s\t%.13s\t%s\t%s\n", c.Id, c.State, c.Metadata.Name, c.PodSandboxId, c.Image.GetImage(), age(c.CreatedAt))
		}
	case "images":
		r, err := is.ListImages(ctx, &rt.ListImagesRequest{})
		check(err)
		fmt.Fprintln(tw, "IMAGE\tID\tSIZE")
		for _, i := range r.Images {
			fmt.Fprintf(tw, "%s\t%.19s\t%d\n", strings.Join(i.RepoTags, ","), i.Id, i.GetSize())
		}
	case "rmp-all":
		r, err := rs.ListPodSandbox(ctx, &rt.ListPodSandboxRequest{})
		check(err)
		bad := 0
		for _, p := range r.Items {
			name := p.Metadata.Namespace + "/" + p.Metadata.Name
			if _, err := rs.StopPodSandbox(ctx, &rt.StopPodSandboxRequest{PodSandboxId: p.Id}); err != nil {
				fmt.Fprintf(os.Stderr, "stop %s: %v\n", name, err)
				bad++
			}
			if _, err := rs.RemovePodSandbox(ctx, &rt.RemovePodSandboxRequest{PodSandboxId: p.Id}); err != nil {
				fmt.Fprintf(os.Stderr, "remove %s: %v\n", name, err)
				bad++
				continue
			}
			fmt.Printf("removed pod sandbox %.13s %s\n", p.Id, name)
		}
		if bad > 0 {
			os.Exit(1)
		}
	default:
		fmt.Fprintln(os.Stderr, "usage: cri [-r endpoint] version|pods|ps|images|rmp-all")
		os.Exit(2)
	}
}

func age(ns int64) string { return time.Since(time.Unix(0, ns)).Round(time.Second).String() }
func check(err error) {
	if err != nil {
		fail(err)
	}
}
func fail(err error) { fmt.Fprintln(os.Stderr, "cri:", err); os.Exit(1) }
