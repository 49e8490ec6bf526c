// The kubeconfig a user downloads from the page: one cluster (the broker's /k8s), one user (the
// kubectl credential as a bearer token), one context. Strings are written as JSON strings, which are
// valid YAML double-quoted scalars, so no value can break out of its place.
import { PATHS } from './constants.js';

export interface KubeconfigInput {
  /** PUBLIC_URL: kubectl calls `<publicUrl>/k8s/...`. */
  publicUrl: string;
  /** PEM that kubectl should trust for PUBLIC_URL (PUBLIC_CA_FILE); none: the system trust store. */
  caPem?: string;
  username: string;
  token: string;
  namespace?: string;
  /** Cluster, user and context name. */
  name?: string;
}

export const KUBECONFIG_NAME = 'aks-broker';

export function kubeconfigYaml(input: KubeconfigInput): string {
  const q = (text: string) => JSON.stringify(text);
  const name = input.name ?? KUBECONFIG_NAME;
  const user = `${input.username}@${name}`;
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${q(name)}`,
    '  cluster:',
    `    server: ${q(input.publicUrl + PATHS.kube)}`,
    ...(input.caPem
      ? [`    certificate-authority-data: ${q(Buffer.from(input.caPem).toString('base64'))}`]
      : []),
    'users:',
    `- name: ${q(user)}`,
    '  user:',
    `    token: ${q(input.token)}`,
    'contexts:',
    `- name: ${q(name)}`,
    '  context:',
    `    cluster: ${q(name)}`,
    `    user: ${q(user)}`,
    ...(input.namespace ? [`    namespace: ${q(input.namespace)}`] : []),
    `current-context: ${q(name)}`,
    '',
  ].join('\n');
}
