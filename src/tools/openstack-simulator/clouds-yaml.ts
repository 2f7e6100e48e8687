export interface CloudsYamlInput {
  cloudName: string;
  authUrl: string;
  region: string;
  username: string;
  password: string;
  projectName: string;
}

/** A clouds.yaml that openstacksdk, the openstack CLI and Nodepool read. */
export function cloudsYaml(input: CloudsYamlInput): string {
  return [
    'clouds:',
    `  ${input.cloudName}:`,
    '    auth:',
    `      auth_url: ${input.authUrl}`,
    `      username: ${input.username}`,
    `      password: ${input.password}`,
    `      project_name: ${input.projectName}`,
    '      user_domain_name: Default',
    '      project_domain_name: Default',
    `    region_name: ${input.region}`,
    '    identity_api_version: 3',
    '',
  ].join('\n');
}
