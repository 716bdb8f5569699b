import { Link } from '@tanstack/react-router';
import { Button } from '../../../components/ui/button';

/** Where to go from a collection: its search, its documents, and upload or explain. */
export function CollectionLinks({ name, upload = false }: { name: string; upload?: boolean }) {
  const params = { collection: name };
  return (
    <div className="flex flex-wrap gap-2">
      <Button asChild size="sm">
        <Link to="/collections/$collection/search" params={params}>
          Search
        </Link>
      </Button>
      <Button asChild size="sm" variant="outline">
        <Link to="/collections/$collection/documents" params={params}>
          Documents
        </Link>
      </Button>
      <Button asChild size="sm" variant="outline">
        {upload ? (
          <Link to="/collections/$collection/upload" params={params}>
            Upload files
          </Link>
        ) : (
          <Link to="/collections/$collection/explain" params={params}>
            Explain
          </Link>
        )}
      </Button>
    </div>
  );
}
