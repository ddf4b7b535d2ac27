import { X } from 'lucide-react';
import { useEffect, useId, useRef, type FormEvent, type ReactNode } from 'react';

/**
 * A modal dialog on the native <dialog> element: focus moves in and stays in, Escape
 * closes it, and focus returns to the button that opened it.
 */
export function Dialog({
  title,
  onClose,
  children,
  footer,
  onSubmit,
  tone = 'default',
  size = 'medium',
  icon,
  onEdit,
}: {
  title: string;
  onClose(): void;
  children: ReactNode;
  footer: ReactNode;
  onSubmit?(): void;
  tone?: 'default' | 'danger';
  size?: 'medium' | 'large';
  icon?: ReactNode;
  /** Any edit in the form: an error about the previous attempt no longer applies. */
  onEdit?(): void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) {
      dialog.showModal();
      // React's autoFocus runs before the dialog opens; this marks the control to start on instead.
      dialog.querySelector<HTMLElement>('[data-autofocus]')?.focus();
    }
    return () => {
      if (dialog?.open) dialog.close();
    };
  }, []);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onSubmit?.();
  };
  return (
    <dialog
      ref={ref}
      className={`dialog dialog-${tone} dialog-${size}`}
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
      onMouseDown={(e) => {
        // A press on the backdrop (the dialog element itself, outside its box) closes it.
        if (e.target === ref.current) {
          const r = ref.current.getBoundingClientRect();
          const inside = e.clientX >= r.left && e.clientX <= r.right && e.clientY >= r.top && e.clientY <= r.bottom;
          if (!inside) onClose();
        }
      }}
    >
      <form onSubmit={submit} onInput={onEdit} className="dialog-form" noValidate>
        <header className="dialog-header">
          {icon && (
            <span className="dialog-icon" aria-hidden="true">
              {icon}
            </span>
          )}
          <h2 id={titleId}>{title}</h2>
          <button type="button" className="icon-btn icon-btn-ghost dialog-close" aria-label="Close" title="Close" onClick={onClose}>
            <X size={18} aria-hidden="true" />
          </button>
        </header>
        <div className="dialog-body">{children}</div>
        <footer className="dialog-footer">{footer}</footer>
      </form>
    </dialog>
  );
}
