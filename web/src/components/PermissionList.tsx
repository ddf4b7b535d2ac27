import type { Api, Role } from '../api';

/** A role's permissions grouped by API: the API's name once, then its permission values. */
export function PermissionList({ permissions, apis }: { permissions: Role['permissions']; apis: Api[] | undefined }) {
  if (permissions.length === 0) return <span className="muted">None</span>;
  const groups = new Map<string, string[]>();
  for (const p of permissions) groups.set(p.api, [...(groups.get(p.api) ?? []), p.value]);
  return (
    <div className="perm-groups">
      {[...groups].map(([identifier, values]) => (
        <div key={identifier} className="perm-group">
          <span className="perm-api">{apis?.find((a) => a.identifier === identifier)?.name ?? identifier}</span>
          <span className="chips">
            {values.map((v) => (
              <code key={v} className="perm-chip">
                {v}
              </code>
            ))}
          </span>
        </div>
      ))}
    </div>
  );
}
