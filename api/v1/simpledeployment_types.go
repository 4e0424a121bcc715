package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// MaxSleepytime bounds SimpleDeployment's spec.sleepytime, in seconds (one day).
const MaxSleepytime = 86_400

// SimpleDeploymentSpec is the pod to run.
type SimpleDeploymentSpec struct {
	// sleepytime is how many seconds the pod sleeps after echoing its line: a whole
	// number from 0 to 86400, given as a number (120) or a string of digits ("120").
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:Pattern=`^[0-9]{1,5}$`
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 0 && self <= 86400 : !self.matches('^[0-9]{1,5}$') || int(self) <= 86400",message="must be a whole number of seconds from 0 to 86400"
	// +optional
	Sleepytime *intstr.IntOrString `json:"sleepytime,omitempty"`
}

// SimpleDeploymentStatus is what DiLO observed of the pod.
type SimpleDeploymentStatus struct {
	// children holds the name of the pod that runs this SimpleDeployment.
	// +listType=atomic
	// +optional
	Children []string `json:"children,omitempty"`

	// observedGeneration is the metadata.generation the pod was made for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// SimpleDeployment runs one pod that echoes a line and sleeps spec.sleepytime
// seconds: the first operator of the kopf tutorial.
//
// The pod is named <name>-<generation>: a spec edit replaces it, and deleting the
// SimpleDeployment deletes it (owner reference). It runs the agent image's sleep
// command once (restartPolicy Never) as user 65532 under the restricted Pod Security
// Standard, requesting 10m CPU and 16Mi memory, limited to 100m and 32Mi.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=simdep;sd,categories=dilo
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 50",message="metadata.name must be at most 50 characters: it is used in the name and labels of the pod"
// +kubebuilder:printcolumn:name="Sleepytime",type=string,JSONPath=`.spec.sleepytime`,description="Seconds the pod sleeps"
// +kubebuilder:printcolumn:name="Children",type=string,JSONPath=`.status.children`,description="The pod created for it"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type SimpleDeployment struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   SimpleDeploymentSpec   `json:"spec,omitempty"`
	Status SimpleDeploymentStatus `json:"status,omitempty"`
}

// SimpleDeploymentList is a list of SimpleDeployments.
// +kubebuilder:object:root=true
type SimpleDeploymentList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SimpleDeployment `json:"items"`
}

func init() {
	SchemeBuilder.Register(&SimpleDeployment{}, &SimpleDeploymentList{})
}
