import { auditId, hexId, tokenId } from './ids.js';
import type { ApplicationCredentialSeed, UserSeed } from './options.js';

export const DEFAULT_DOMAIN = { id: 'default', name: 'Default' } as const;

export interface Project {
  id: string;
  name: string;
}

export interface Role {
  id: string;
  name: string;
}

export interface User {
  id: string;
  name: string;
  password: string;
  project: Project;
  roles: Role[];
}

export interface ApplicationCredential {
  id: string;
  name: string;
  secret: string;
  user: User;
}

export interface Token {
  id: string;
  user: User;
  project: Project;
  methods: string[];
  issuedAt: number;
  expiresAt: number;
  auditId: string;
  applicationCredential?: ApplicationCredential;
}

/** Users, projects, roles and tokens of the one domain `Default`. */
export class IdentityStore {
  readonly users = new Map<string, User>();
  readonly projects = new Map<string, Project>();
  readonly applicationCredentials = new Map<string, ApplicationCredential>();
  private readonly roles = new Map<string, Role>();
  private readonly tokens = new Map<string, Token>();

  constructor(users: readonly UserSeed[], credentials: readonly ApplicationCredentialSeed[]) {
    for (const seed of users) this.addUser(seed);
    for (const seed of credentials) this.addApplicationCredential(seed);
  }

  addUser(seed: UserSeed): User {
    const project = this.projectByName(seed.project) ?? this.addProject(seed.project);
    const roles = (seed.roles ?? ['member', 'reader']).map((name) => this.role(name));
    const user: User = { id: seed.id ?? hexId(), name: seed.name, password: seed.password, project, roles };
    this.users.set(user.id, user);
    return user;
  }

  addApplicationCredential(seed: ApplicationCredentialSeed): ApplicationCredential {
    const user = this.userByName(seed.user);
    if (!user) throw new Error(`application credential ${seed.name}: no user ${seed.user}`);
    const credential: ApplicationCredential = { id: seed.id ?? hexId(), name: seed.name, secret: seed.secret, user };
    this.applicationCredentials.set(credential.id, credential);
    return credential;
  }

  userByName(name: string): User | undefined {
    return [...this.users.values()].find((u) => u.name === name);
  }

  projectByName(name: string): Project | undefined {
    return [...this.projects.values()].find((p) => p.name === name);
  }

  issue(fields: Omit<Token, 'id' | 'auditId'>): Token {
    const token: Token = { ...fields, id: tokenId(), auditId: auditId() };
    this.tokens.set(token.id, token);
    return token;
  }

  /** The token if it exists and has not expired at `now`. */
  valid(id: string | undefined, now: number): Token | undefined {
    if (!id) return undefined;
    const token = this.tokens.get(id);
    if (!token || token.expiresAt <= now) return undefined;
    return token;
  }

  revoke(id: string): boolean {
    return this.tokens.delete(id);
  }

  /** Every token issued so far stops working (a test of re-authentication). */
  revokeAll(): void {
    this.tokens.clear();
  }

  private addProject(name: string): Project {
    const project = { id: hexId(), name };
    this.projects.set(project.id, project);
    return project;
  }

  private role(name: string): Role {
    const existing = this.roles.get(name);
    if (existing) return existing;
    const role = { id: hexId(), name };
    this.roles.set(name, role);
    return role;
  }
}
