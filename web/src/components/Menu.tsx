import { createContext, useContext, useEffect, useId, useRef, useState, type KeyboardEvent, type ReactElement, type ReactNode } from 'react';

/**
 * A menu button (WAI-ARIA menu pattern): Enter, Space or ArrowDown opens it with focus on
 * the first item; arrows, Home and End move; Escape closes and returns focus to the button.
 */
const CloseContext = createContext<() => void>(() => {});

export function Menu({ label, icon, children, caption }: { label: string; icon: ReactElement; children: ReactNode; caption?: ReactNode }) {
  const [open, setOpen] = useState(false);
  const buttonRef = useRef<HTMLButtonElement>(null);
  const menuRef = useRef<HTMLDivElement>(null);
  const id = useId();

  const items = () => Array.from(menuRef.current?.querySelectorAll<HTMLElement>('[role^="menuitem"]') ?? []);
  const close = (refocus = true) => {
    setOpen(false);
    if (refocus) buttonRef.current?.focus();
  };

  useEffect(() => {
    if (!open) return;
    const first = items().find((el) => el.getAttribute('aria-checked') === 'true') ?? items()[0];
    first?.focus();
    const onDown = (e: MouseEvent) => {
      const target = e.target as Node;
      if (!menuRef.current?.contains(target) && !buttonRef.current?.contains(target)) setOpen(false);
    };
    document.addEventListener('mousedown', onDown);
    return () => document.removeEventListener('mousedown', onDown);
  }, [open]);

  const onMenuKey = (e: KeyboardEvent) => {
    const list = items();
    const at = list.indexOf(document.activeElement as HTMLElement);
    const move = (i: number) => list[(i + list.length) % list.length]?.focus();
    if (e.key === 'ArrowDown') move(at + 1);
    else if (e.key === 'ArrowUp') move(at - 1);
    else if (e.key === 'Home') move(0);
    else if (e.key === 'End') move(list.length - 1);
    else if (e.key === 'Escape') close();
    else if (e.key === 'Tab') close(false);
    else return;
    if (e.key !== 'Tab') e.preventDefault();
  };

  return (
    <div className="menu">
      <button
        ref={buttonRef}
        type="button"
        className={`icon-btn icon-btn-ghost menu-button${caption ? ' with-caption' : ''}`}
        aria-label={label}
        title={label}
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={open ? id : undefined}
        onClick={() => setOpen((o) => !o)}
        onKeyDown={(e) => {
          if (e.key === 'ArrowDown' && !open) {
            e.preventDefault();
            setOpen(true);
          }
        }}
      >
        {icon}
        {caption && <span className="menu-caption">{caption}</span>}
      </button>
      {open && (
        <div ref={menuRef} id={id} role="menu" aria-label={label} className="menu-popover" onKeyDown={onMenuKey}>
          <CloseContext.Provider value={() => close()}>{children}</CloseContext.Provider>
        </div>
      )}
    </div>
  );
}

export function MenuItem({ onSelect, children, checked, icon, tone }: { onSelect(): void; children: ReactNode; checked?: boolean; icon?: ReactElement; tone?: 'danger' }) {
  const close = useContext(CloseContext);
  return (
    <button
      type="button"
      role={checked === undefined ? 'menuitem' : 'menuitemradio'}
      aria-checked={checked}
      tabIndex={-1}
      className={`menu-item${checked ? ' is-checked' : ''}${tone ? ` menu-item-${tone}` : ''}`}
      onClick={() => {
        close();
        onSelect();
      }}
    >
      {icon && (
        <span className="menu-item-icon" aria-hidden="true">
          {icon}
        </span>
      )}
      <span className="menu-item-label">{children}</span>
    </button>
  );
}

export function MenuGroup({ label, children }: { label: string; children: ReactNode }) {
  const id = useId();
  return (
    <div role="group" aria-labelledby={id} className="menu-group">
      <div id={id} className="menu-group-label" role="presentation">
        {label}
      </div>
      {children}
    </div>
  );
}

export function MenuSeparator() {
  return <div role="separator" className="menu-separator" />;
}
