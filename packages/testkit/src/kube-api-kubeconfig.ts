// Kubeconfig YAML pointing kubectl or @kubernetes/client-node at the stand-in with a bearer token.

export interface KubeconfigFields {
  url: string;
  caPem: string;
  username: string;
  token: string;
  namespace: string;
}

export function kubeconfigYaml({ url, caPem, username, token, namespace }: KubeconfigFields): string {
  // Every value JSON-quoted: JSON strings are valid YAML scalars, whatever they contain.
  const q = (s: string) => JSON.stringify(s);
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: kube-api-stand-in',
    '  cluster:',
    `    server: ${q(url)}`,
    `    certificate-authority-data: ${q(Buffer.from(caPem).toString('base64'))}`,
    'users:',
    `- name: ${q(username)}`,
    '  user:',
    `    token: ${q(token)}`,
    'contexts:',
    '- name: stand-in',
    '  context:',
    '    cluster: kube-api-stand-in',
    `    user: ${q(username)}`,
    `    namespace: ${q(namespace)}`,
    'current-context: stand-in',
    '',
  ].join('\n');
}
