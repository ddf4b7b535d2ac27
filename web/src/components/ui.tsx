import { Check, Copy, Info, TriangleAlert } from 'lucide-react';
import { useEffect, useId, useState, type ButtonHTMLAttributes, type ReactElement, type ReactNode } from 'react';

type Tone = 'primary' | 'secondary' | 'danger' | 'danger-outline' | 'ghost';

/**
 * A button; while `busy` it ignores presses but stays enabled, so it keeps focus (a disabled
 * button drops focus to the page body, out of the dialog it is in).
 */
export function Button({ tone = 'secondary', busy, children, className, onClick, ...rest }: ButtonHTMLAttributes<HTMLButtonElement> & { tone?: Tone; busy?: boolean }) {
  return (
    <button
      type="button"
      {...rest}
      className={`btn btn-${tone}${className ? ` ${className}` : ''}`}
      aria-disabled={busy || undefined}
      aria-busy={busy || undefined}
      onClick={(e) => {
        if (busy) e.preventDefault();
        else onClick?.(e);
      }}
    >
      {children}
    </button>
  );
}

/** A button that shows only an icon: the label is its accessible name and its tooltip. */
export function IconButton({ label, icon, tone = 'ghost', ...rest }: ButtonHTMLAttributes<HTMLButtonElement> & { label: string; icon: ReactElement; tone?: Tone }) {
  return (
    <button type="button" {...rest} className={`icon-btn icon-btn-${tone}`} aria-label={label} title={label}>
      {icon}
    </button>
  );
}

/** An error, shown where the person acted, with the server's details if any; screen readers announce it. */
export function ErrorText({ message, id, details = [], className }: { message: string | undefined; id?: string; details?: readonly string[]; className?: string }) {
  if (!message) return null;
  return (
    <div className={`error-text${className ? ` ${className}` : ''}`} role="alert" id={id}>
      <TriangleAlert size={16} aria-hidden="true" />
      <div>
        <span>{message}</span>
        {details.length > 0 && (
          <ul className="error-details">
            {details.map((d) => (
              <li key={d}>{d}</li>
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}

export function Callout({ tone, title, children }: { tone: 'warning' | 'danger' | 'info' | 'success'; title?: string; children: ReactNode }) {
  const Icon = tone === 'info' || tone === 'success' ? Info : TriangleAlert;
  return (
    <div className={`callout callout-${tone}`} role={tone === 'danger' || tone === 'warning' ? 'note' : undefined}>
      <Icon size={18} aria-hidden="true" className="callout-icon" />
      <div>
        {title && <strong className="callout-title">{title}</strong>}
        <div>{children}</div>
      </div>
    </div>
  );
}

async function writeClipboard(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    return;
  } catch {
    // Not a secure context or no permission: the old way still works in every browser.
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.opacity = '0';
  document.body.appendChild(area);
  area.select();
  const ok = document.execCommand('copy');
  area.remove();
  if (!ok) throw new Error('copy refused');
}

export function CopyButton({ value, what }: { value: string; what: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  useEffect(() => {
    if (state === 'idle') return;
    const t = setTimeout(() => setState('idle'), 2000);
    return () => clearTimeout(t);
  }, [state]);
  const label = state === 'copied' ? `Copied ${what}` : state === 'failed' ? `Could not copy ${what}; select it and copy by hand` : `Copy ${what}`;
  return (
    <button
      type="button"
      className={`icon-btn icon-btn-ghost copy-btn${state === 'copied' ? ' is-copied' : ''}`}
      aria-label={label}
      title={label}
      onClick={() =>
        writeClipboard(value).then(
          () => setState('copied'),
          () => setState('failed'),
        )
      }
    >
      {state === 'copied' ? <Check size={16} aria-hidden="true" /> : <Copy size={16} aria-hidden="true" />}
      <span className="sr-only" aria-live="polite">
        {state === 'copied' ? 'Copied' : ''}
      </span>
    </button>
  );
}

/** A monospaced value with a copy button, e.g. a client ID. */
export function CopyValue({ value, what, className }: { value: string; what: string; className?: string }) {
  return (
    <span className={`copy-value${className ? ` ${className}` : ''}`}>
      <code>{value}</code>
      <CopyButton value={value} what={what} />
    </span>
  );
}

export function Field({ label, hint, children }: { label: string; hint?: ReactNode; children: (id: string, hintId: string | undefined) => ReactNode }) {
  const id = useId();
  const hintId = hint ? `${id}-hint` : undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children(id, hintId)}
      {hint && (
        <p className="field-hint" id={hintId}>
          {hint}
        </p>
      )}
    </div>
  );
}

export function EmptyState({ icon, title, children, action }: { icon: ReactElement; title: string; children?: ReactNode; action?: ReactNode }) {
  return (
    <div className="empty-state">
      <div className="empty-icon" aria-hidden="true">
        {icon}
      </div>
      <h3>{title}</h3>
      {children && <p>{children}</p>}
      {action}
    </div>
  );
}

export function Badge({ tone = 'neutral', children }: { tone?: 'neutral' | 'blue' | 'green' | 'amber' | 'red'; children: ReactNode }) {
  return <span className={`badge badge-${tone}`}>{children}</span>;
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="loading" role="status">
      Loading {what}…
    </p>
  );
}

export function PageHeader({ title, description, actions }: { title: string; description?: ReactNode; actions?: ReactNode }) {
  return (
    <div className="page-header">
      <div>
        <h1>{title}</h1>
        {description && <p className="page-description">{description}</p>}
      </div>
      {actions && <div className="page-actions">{actions}</div>}
    </div>
  );
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function formatDate(value: string | null | undefined): string {
  if (!value) return '—';
  return dateFormat.format(new Date(value));
}

export function relativeTime(value: string | null): string {
  if (!value) return 'Never';
  const seconds = Math.round((Date.now() - new Date(value).getTime()) / 1000);
  if (seconds < 60) return 'Just now';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return formatDate(value);
}
